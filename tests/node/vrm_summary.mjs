// Loads .vrm files the way companions-frontend does (three + @pixiv/three-vrm) and validates them with the
// Khronos glTF validator; prints one JSON array, one summary per file.
//   node vrm_summary.mjs FILE.vrm [FILE.vrm ...]
// A file three-vrm cannot load gets {"file", "error"} instead of a summary; the exit code is then 1.
import { readFile } from 'node:fs/promises';
import { Box3, Vector3 } from 'three';
import { parseGLB, validate } from './three_vrm.mjs';

function metaOf(meta) {
  if (meta.metaVersion === '1') {
    return { metaVersion: '1', name: meta.name, version: meta.version, authors: meta.authors, licenseUrl: meta.licenseUrl };
  }
  return { metaVersion: '0', name: meta.title, version: meta.version, authors: [meta.author], licenseName: meta.licenseName, licenseUrl: meta.otherLicenseUrl };
}

function thumbnailIndex(json) {
  const ext = json.extensions ?? {};
  return ext.VRMC_vrm ? ext.VRMC_vrm.meta.thumbnailImage : ext.VRM?.meta?.texture;
}

// Each mesh's materials as three.js draws them: a fragment's alpha is the material's opacity times its map's
// and vertex colour's (at most 1), discarded below alphaTest, and invisible when blended at opacity 0.
function materialsOf(scene) {
  const found = [];
  scene.traverse((object) => {
    if (!object.isMesh) return;
    for (const material of [object.material].flat()) {
      const draws = material.visible && material.opacity >= material.alphaTest && !(material.transparent && material.opacity <= 0);
      found.push({ mesh: object.name, material: material.name, type: material.type, opacity: material.opacity,
        alphaTest: material.alphaTest, transparent: material.transparent, draws });
    }
  });
  return found;
}

async function summarize(file) {
  const bytes = await readFile(file);
  const gltf = await parseGLB(bytes);
  const vrm = gltf.userData.vrm;
  if (!vrm || !vrm.meta) throw new Error('three-vrm found no VRM in the file (VRMC_vrm / VRM extension or meta missing)');
  gltf.scene.updateMatrixWorld(true);
  // three sanitizes object names ("UpperArm.L" becomes "UpperArmL"): report the file's own node names.
  const nodeName = (object) => gltf.parser.json.nodes[gltf.parser.associations.get(object).nodes].name;
  const humanBones = {};
  for (const [bone, entry] of Object.entries(vrm.humanoid.humanBones)) {
    if (entry?.node) humanBones[bone] = nodeName(entry.node);
  }
  const world = (bone) => {
    const node = vrm.humanoid.getRawBoneNode(bone);
    return node ? node.getWorldPosition(new Vector3()).toArray() : null;
  };
  return {
    file,
    meta: metaOf(vrm.meta),
    humanBones,
    expressions: vrm.expressionManager ? vrm.expressionManager.expressions.map((e) => e.expressionName).sort() : [],
    leftHand: world('leftHand'),
    head: world('head'),
    // Every mapped bone's world position (metres, y up, VRM 1.0 faces +z): where the anatomy can be checked.
    positions: Object.fromEntries(Object.keys(humanBones).map((bone) => [bone, world(bone)])),
    // The meshes' world bounding box as three.js skins them in this pose: where they stand beside the bones.
    meshBounds: (({ min, max }) => ({ min: min.toArray(), max: max.toArray() }))(new Box3().setFromObject(gltf.scene, true)),
    // three-vrm skips loading the thumbnail by default: read whether the meta points at one.
    thumbnail: thumbnailIndex(gltf.parser.json) != null,
    materials: materialsOf(gltf.scene),
    validator: await validate(bytes),
  };
}

let failed = false;
const results = [];
for (const file of process.argv.slice(2)) {
  try {
    results.push(await summarize(file));
  } catch (error) {
    failed = true;
    results.push({ file, error: String(error?.stack ?? error) });
  }
}
process.stdout.write(JSON.stringify(results, null, 2) + '\n');
process.exitCode = failed ? 1 : 0;
