// Loads two .vrm files of the same scene, an uncompressed one (A) and a web-packed one (B), the way
// companions-frontend does with compression on (three + @pixiv/three-vrm, GLTFLoader with MeshoptDecoder),
// and says what differs between them as three-vrm sees them.
//   node web_compare.mjs A.vrm B.vrm
// Prints {"a", "b", "positions", "validator"}: each file's VRM summary (meta, humanoid, expressions and their
// binds, spring bones, look-at, first person, node constraints); for each pose (the rest pose, every
// expression of A at weight 1, a test pose of the humanoid) the largest distance between the files' skinned
// and morphed vertex positions in world space, each mesh's as sets (the packer renumbers vertices: each
// vertex's distance to the nearest of the other file's, both ways), and the largest distance A's vertices
// moved from rest; and the Khronos validator's report on B. Exit 1 with {"error"} when a file does not load.
import { readFile } from 'node:fs/promises';
import { Vector3 } from 'three';
import { parseGLB, validate } from './three_vrm.mjs';

// The humanoid test pose: normalized bone -> Euler angles (radians), arms down, a knee and the head turned.
const POSE = {
  leftUpperArm: [0, 0, -1.1],
  rightUpperArm: [0, 0, 1.1],
  leftLowerArm: [0, -0.6, 0],
  rightLowerLeg: [0.8, 0, 0],
  spine: [0.2, 0.1, 0],
  head: [0.1, 0.5, 0],
};

async function load(file) {
  const bytes = await readFile(file);
  const gltf = await parseGLB(bytes);
  const vrm = gltf.userData.vrm;
  if (!vrm || !vrm.meta) throw new Error(`${file}: three-vrm found no VRM`);
  const meshes = [];
  gltf.scene.traverse((object) => {
    if (object.isMesh) meshes.push(object);
  });
  return { vrm, meshes, gltf, bytes };
}

function plain(value) {
  // The meta's own values: text, numbers, flags and lists of them (the thumbnail image object left out).
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v === null || typeof v !== 'object' || Array.isArray(v)),
  );
}

function summary({ vrm, gltf }) {
  const nodeName = (object) => gltf.parser.json.nodes[gltf.parser.associations.get(object)?.nodes]?.name ?? object.name;
  const humanBones = {};
  for (const [bone, entry] of Object.entries(vrm.humanoid.humanBones)) {
    if (entry?.node) humanBones[bone] = nodeName(entry.node);
  }
  const expressions = {};
  for (const expression of vrm.expressionManager?.expressions ?? []) {
    const kinds = {};
    for (const bind of expression.binds) kinds[bind.constructor.name] = (kinds[bind.constructor.name] ?? 0) + 1;
    // Each morph bind as [meshes#target, weight]: the weight a number, compared as the caller decides.
    const morphs = expression.binds
      .filter((bind) => bind.primitives)
      .map((bind) => [`${bind.primitives.map((p) => nodeName(p)).join('+')}#${bind.index}`, bind.weight])
      .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
    expressions[expression.expressionName] = { binds: expression.binds.length, kinds, morphs };
  }
  const springJoints = [...(vrm.springBoneManager?.joints ?? [])]
    .map((joint) => ({
      bone: nodeName(joint.bone),
      child: joint.child ? nodeName(joint.child) : null,
      settings: plain(joint.settings),
      colliderGroups: joint.colliderGroups.length,
    }))
    .sort((x, y) => (x.bone < y.bone ? -1 : x.bone > y.bone ? 1 : 0));
  return {
    meta: plain(vrm.meta),
    thumbnail: vrm.meta.thumbnailImage != null || gltf.parser.json.extensions?.VRMC_vrm?.meta?.thumbnailImage != null,
    humanBones,
    expressions,
    springJoints,
    colliders: vrm.springBoneManager?.colliders.length ?? 0,
    lookAt: vrm.lookAt ? { type: vrm.lookAt.applier?.constructor.name, offset: vrm.lookAt.offsetFromHeadBone.toArray() } : null,
    firstPerson: (vrm.firstPerson?.meshAnnotations ?? []).map((a) => `${a.meshes.map((m) => m.name).join('+')}:${a.type}`).sort(),
    constraints: vrm.nodeConstraintManager ? vrm.nodeConstraintManager.constraints.size : 0,
    materials: [...new Set(vrm.materials ?? [])].map((m) => m.type).sort(),
    meshes: gltf.scene ? countMeshes(gltf.scene) : 0,
  };
}

function countMeshes(scene) {
  let count = 0;
  scene.traverse((object) => {
    if (object.isMesh) count += 1;
  });
  return count;
}

// Every mesh's vertices as three.js shows them: morphed, skinned, in world space.
function positions(model) {
  model.gltf.scene.updateMatrixWorld(true);
  const out = [];
  const v = new Vector3();
  for (const mesh of model.meshes) {
    const count = mesh.geometry.attributes.position.count;
    const array = new Float64Array(count * 3);
    for (let i = 0; i < count; i++) {
      mesh.getVertexPosition(i, v);
      v.applyMatrix4(mesh.matrixWorld);
      array[i * 3] = v.x;
      array[i * 3 + 1] = v.y;
      array[i * 3 + 2] = v.z;
    }
    out.push(array);
  }
  return out;
}

function largestDistance(a, b) {
  let largest = 0;
  for (let m = 0; m < a.length; m++) {
    for (let i = 0; i < a[m].length; i += 3) {
      const d = Math.hypot(a[m][i] - b[m][i], a[m][i + 1] - b[m][i + 1], a[m][i + 2] - b[m][i + 2]);
      largest = Math.max(largest, d);
    }
  }
  return largest;
}

// Vertices farther than this from every vertex of the other file count as this far: a lower bound, far
// above any tolerance the tests state.
const REACH = 0.002;

function cellsOf(points) {
  const cells = new Map();
  for (let i = 0; i < points.length; i += 3) {
    const key = cellKey(points[i], points[i + 1], points[i + 2], 0, 0, 0);
    let list = cells.get(key);
    if (!list) cells.set(key, (list = []));
    list.push(i);
  }
  return cells;
}

function cellKey(x, y, z, dx, dy, dz) {
  return `${Math.floor(x / REACH) + dx},${Math.floor(y / REACH) + dy},${Math.floor(z / REACH) + dz}`;
}

// The largest distance from a point of `from` to the nearest point of `to` (capped at REACH).
function farthestNearest(from, to) {
  const cells = cellsOf(to);
  let largest = 0;
  for (let i = 0; i < from.length; i += 3) {
    const [x, y, z] = [from[i], from[i + 1], from[i + 2]];
    let nearest = REACH;
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (let dz = -1; dz <= 1; dz++) {
          for (const j of cells.get(cellKey(x, y, z, dx, dy, dz)) ?? []) {
            nearest = Math.min(nearest, Math.hypot(x - to[j], y - to[j + 1], z - to[j + 2]));
          }
        }
      }
    }
    largest = Math.max(largest, nearest);
  }
  return largest;
}

// Each mesh's vertices compared as sets (Hausdorff distance), the largest over the meshes.
function setDistance(a, b) {
  let largest = 0;
  for (let m = 0; m < a.length; m++) largest = Math.max(largest, farthestNearest(a[m], b[m]), farthestNearest(b[m], a[m]));
  return largest;
}

function withExpression(model, name, weight) {
  model.vrm.expressionManager.setValue(name, weight);
  model.vrm.expressionManager.update();
}

function withPose(model, angles) {
  for (const [bone, [x, y, z]] of Object.entries(angles)) {
    model.vrm.humanoid.getNormalizedBoneNode(bone)?.rotation.set(x, y, z);
  }
  model.vrm.humanoid.update();
}

function comparePositions(a, b) {
  const meshCounts = (model) => model.meshes.map((m) => m.geometry.attributes.position.count).join(',');
  if (meshCounts(a) !== meshCounts(b)) throw new Error(`the files' meshes differ: ${meshCounts(a)} vs ${meshCounts(b)}`);
  const rest = positions(a);
  const result = { rest: { difference: setDistance(rest, positions(b)), moved: 0 } };
  for (const expression of a.vrm.expressionManager?.expressions ?? []) {
    const name = expression.expressionName;
    withExpression(a, name, 1);
    withExpression(b, name, 1);
    const inA = positions(a);
    result[`expression:${name}`] = { difference: setDistance(inA, positions(b)), moved: largestDistance(inA, rest) };
    withExpression(a, name, 0);
    withExpression(b, name, 0);
  }
  withPose(a, POSE);
  withPose(b, POSE);
  const posed = positions(a);
  result.pose = { difference: setDistance(posed, positions(b)), moved: largestDistance(posed, rest) };
  return result;
}

try {
  const [a, b] = [await load(process.argv[2]), await load(process.argv[3])];
  const result = { a: summary(a), b: summary(b), positions: comparePositions(a, b), validator: await validate(b.bytes) };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + '\n');
  process.exitCode = 1;
}
