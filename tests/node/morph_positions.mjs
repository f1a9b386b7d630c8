// Morphed vertex positions of two .vrm files of the same scene, as three + @pixiv/three-vrm compute them:
// for each expression of the first file at weight 1, the largest difference between the files' positions.
//   node morph_positions.mjs A.vrm B.vrm
// Prints {"vertices", "expressions": {name: {"difference", "moved"}}} ("moved": the largest displacement
// the expression gives in A, in metres); exit 1 with {"error"} when a file does not load or the meshes differ.
import { readFile } from 'node:fs/promises';
import { Mesh, Vector3 } from 'three';
import { parseGLB } from './three_vrm.mjs';

async function load(file) {
  const bytes = await readFile(file);
  const gltf = await parseGLB(bytes);
  const vrm = gltf.userData.vrm;
  if (!vrm || !vrm.expressionManager) throw new Error(`${file}: three-vrm found no VRM expressions`);
  const meshes = [];
  gltf.scene.traverse((object) => {
    if (object.isMesh && object.morphTargetInfluences) meshes.push(object);
  });
  return { vrm, meshes };
}

// Every morphed mesh's vertex positions with the morph targets applied (object space, before skinning).
function positions(meshes) {
  const out = [];
  const v = new Vector3();
  for (const mesh of meshes) {
    const count = mesh.geometry.attributes.position.count;
    const array = new Float64Array(count * 3);
    for (let i = 0; i < count; i++) {
      Mesh.prototype.getVertexPosition.call(mesh, i, v);
      array[i * 3] = v.x;
      array[i * 3 + 1] = v.y;
      array[i * 3 + 2] = v.z;
    }
    out.push(array);
  }
  return out;
}

function largestDifference(a, b) {
  let largest = 0;
  for (let m = 0; m < a.length; m++) {
    for (let i = 0; i < a[m].length; i++) largest = Math.max(largest, Math.abs(a[m][i] - b[m][i]));
  }
  return largest;
}

function posed(model, name, weight) {
  model.vrm.expressionManager.setValue(name, weight);
  model.vrm.expressionManager.update();
  const result = positions(model.meshes);
  model.vrm.expressionManager.setValue(name, 0);
  model.vrm.expressionManager.update();
  return result;
}

try {
  const [a, b] = [await load(process.argv[2]), await load(process.argv[3])];
  const counts = (model) => model.meshes.map((m) => m.geometry.attributes.position.count).join(',');
  if (counts(a) !== counts(b)) throw new Error(`the files' morphed meshes differ: ${counts(a)} vs ${counts(b)}`);
  const neutral = positions(a.meshes);
  const expressions = {};
  for (const expression of a.vrm.expressionManager.expressions) {
    const name = expression.expressionName;
    const inA = posed(a, name, 1);
    expressions[name] = { difference: largestDifference(inA, posed(b, name, 1)), moved: largestDifference(inA, neutral) };
  }
  process.stdout.write(JSON.stringify({ vertices: counts(a), expressions }, null, 2) + '\n');
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + '\n');
  process.exitCode = 1;
}
