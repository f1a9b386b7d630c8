// Compares an auto-rigged VRM with the artist's rig of the same mesh, both loaded as companions-frontend
// loads them (three + @pixiv/three-vrm):
//   node autorig_compare.mjs AUTO.vrm ARTIST.vrm
// Prints one JSON object: per required humanoid bone the distance between the two joints, and the posed
// surface error (one test pose applied to both through the normalized bones, then the symmetric mean
// nearest-point distance between the two posed meshes), both divided by the avatar's height. Each model is
// placed by its own rest mesh (feet on the floor, centred), so a rig that moved the avatar is not penalised.
import { readFile } from 'node:fs/promises';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { Vector3 } from 'three';
import { VRMLoaderPlugin } from '@pixiv/three-vrm';
import { MeshoptDecoder } from 'meshoptimizer/decoder';

globalThis.self ??= globalThis;
globalThis.createImageBitmap ??= async () => ({ width: 1, height: 1, close() {} });

const REQUIRED = ['hips', 'spine', 'head', 'leftUpperLeg', 'leftLowerLeg', 'leftFoot', 'rightUpperLeg',
  'rightLowerLeg', 'rightFoot', 'leftUpperArm', 'leftLowerArm', 'leftHand', 'rightUpperArm', 'rightLowerArm',
  'rightHand'];
// Euler angles (radians) on normalized bones: arms lowered, elbows and knees bent, spine and head turned.
const POSE = {
  leftUpperArm: [0, 0, -1.1], rightUpperArm: [0, 0, 1.1],
  leftLowerArm: [0, -1.0, 0], rightLowerArm: [0, 1.0, 0],
  leftUpperLeg: [-0.6, 0, 0], rightUpperLeg: [-0.4, 0, 0],
  leftLowerLeg: [1.0, 0, 0], rightLowerLeg: [0.8, 0, 0],
  spine: [0.15, 0.35, 0], head: [0.2, -0.5, 0],
};
const MAX_POINTS = 30000;

async function load(file) {
  const bytes = await readFile(file);
  const loader = new GLTFLoader();
  // companions-frontend's one line for web presets' compressed geometry (EXT_meshopt_compression).
  loader.setMeshoptDecoder(MeshoptDecoder);
  loader.register((parser) => new VRMLoaderPlugin(parser));
  const gltf = await loader.parseAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), '');
  const vrm = gltf.userData.vrm;
  if (!vrm?.meta) throw new Error(`${file}: three-vrm found no VRM`);
  return vrm;
}

function surface(vrm) {
  vrm.update(0);
  vrm.scene.updateMatrixWorld(true);
  const points = [];
  const v = new Vector3();
  vrm.scene.traverse((object) => {
    if (!object.isMesh) return;
    const count = object.geometry.attributes.position.count;
    for (let i = 0; i < count; i++) {
      object.getVertexPosition(i, v);
      points.push(v.clone().applyMatrix4(object.matrixWorld));
    }
  });
  const stride = Math.max(1, Math.ceil(points.length / MAX_POINTS));
  return points.filter((_, i) => i % stride === 0);
}

function frame(points) {
  const lo = new Vector3(Infinity, Infinity, Infinity);
  const hi = new Vector3(-Infinity, -Infinity, -Infinity);
  for (const p of points) { lo.min(p); hi.max(p); }
  const height = hi.y - lo.y;
  const origin = new Vector3((lo.x + hi.x) / 2, lo.y, (lo.z + hi.z) / 2);
  return { height, place: (p) => p.clone().sub(origin).divideScalar(height) };
}

function nearestMean(from, to, cell) {
  const grid = new Map();
  const key = (x, y, z) => `${x},${y},${z}`;
  for (const p of to) {
    const k = key(Math.floor(p.x / cell), Math.floor(p.y / cell), Math.floor(p.z / cell));
    if (!grid.has(k)) grid.set(k, []);
    grid.get(k).push(p);
  }
  let total = 0;
  for (const p of from) {
    const cx = Math.floor(p.x / cell), cy = Math.floor(p.y / cell), cz = Math.floor(p.z / cell);
    let best = Infinity;
    for (let r = 1; best === Infinity || best > (r - 1) * cell; r++) {
      for (let x = cx - r; x <= cx + r; x++) for (let y = cy - r; y <= cy + r; y++) for (let z = cz - r; z <= cz + r; z++) {
        if (Math.max(Math.abs(x - cx), Math.abs(y - cy), Math.abs(z - cz)) < r - 1) continue;
        for (const q of grid.get(key(x, y, z)) ?? []) best = Math.min(best, p.distanceTo(q));
      }
      if (r > 64) break;
    }
    total += best;
  }
  return total / from.length;
}

const [autoFile, artistFile] = process.argv.slice(2);
const models = [await load(autoFile), await load(artistFile)];
const frames = models.map((vrm) => frame(surface(vrm)));
const joints = {};
for (const bone of REQUIRED) {
  const [a, b] = models.map((vrm, i) => frames[i].place(vrm.humanoid.getRawBoneNode(bone).getWorldPosition(new Vector3())));
  joints[bone] = a.distanceTo(b);
}
for (const vrm of models) {
  for (const [bone, [x, y, z]] of Object.entries(POSE)) vrm.humanoid.getNormalizedBoneNode(bone)?.rotation.set(x, y, z);
}
const posed = models.map((vrm, i) => surface(vrm).map(frames[i].place));
const surfaceError = (nearestMean(posed[0], posed[1], 0.02) + nearestMean(posed[1], posed[0], 0.02)) / 2;
const errors = Object.values(joints).sort((a, b) => a - b);
console.log(JSON.stringify({
  height: frames.map((f) => f.height),
  joints,
  joint_median: errors[Math.floor(errors.length / 2)],
  joint_worst: errors[errors.length - 1],
  surface: surfaceError,
}));
