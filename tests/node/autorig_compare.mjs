// Compares an auto-rigged VRM with the artist's rig of the same mesh, both loaded as companions-frontend
// loads them (three + @pixiv/three-vrm):
//   node autorig_compare.mjs AUTO.vrm ARTIST.vrm [REFERENCE.vrm]
// Prints one JSON object: per required humanoid bone the distance between the two joints, and the posed
// surface error (one test pose applied to both through the normalized bones, then the symmetric mean
// nearest-point distance between the two posed meshes), both divided by the artist's avatar's height.
// REFERENCE is the artist's skeleton placed on the same bare mesh and exported by the same pipeline as AUTO:
// the joints are compared with it, not with ARTIST, because an export writes each rig's own T-pose (the
// artist's file may keep spread legs, or an animation's pose) and those moves are no placement's error.
// The artist's model is placed by its rest mesh, the others where their rest mesh best matches it (see
// `matched`), so a rig that moved the whole avatar is not penalised.
import { readFile } from 'node:fs/promises';
import { Vector3 } from 'three';
import { parseGLB } from './three_vrm.mjs';

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
  const gltf = await parseGLB(bytes);
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

function median(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor(sorted.length / 2)];
}

// The artist's model stands on its lowest point, its median across and in depth on the axis (a prop that the
// rigs pose apart, a backpack arm, moves a bounding box's centre but hardly the median).
function frame(points) {
  let low = Infinity, high = -Infinity;
  for (const p of points) { low = Math.min(low, p.y); high = Math.max(high, p.y); }
  const origin = new Vector3(median(points.map((p) => p.x)), low, median(points.map((p) => p.z)));
  return { height: high - low, origin };
}

// For each point of `from`, the nearest point of `to` (a uniform grid of `cell`).
function nearest(from, to, cell) {
  const grid = new Map();
  const key = (x, y, z) => `${x},${y},${z}`;
  for (const p of to) {
    const k = key(Math.floor(p.x / cell), Math.floor(p.y / cell), Math.floor(p.z / cell));
    if (!grid.has(k)) grid.set(k, []);
    grid.get(k).push(p);
  }
  return from.map((p) => {
    const cx = Math.floor(p.x / cell), cy = Math.floor(p.y / cell), cz = Math.floor(p.z / cell);
    let best = Infinity, found = p;
    for (let r = 1; best === Infinity || best > (r - 1) * cell; r++) {
      for (let x = cx - r; x <= cx + r; x++) for (let y = cy - r; y <= cy + r; y++) for (let z = cz - r; z <= cz + r; z++) {
        if (Math.max(Math.abs(x - cx), Math.abs(y - cy), Math.abs(z - cz)) < r - 1) continue;
        for (const q of grid.get(key(x, y, z)) ?? []) {
          const d = p.distanceTo(q);
          if (d < best) { best = d; found = q; }
        }
      }
      if (r >= 8) {  // far from everything (a part the rigs pose apart): a scan beats ever wider shells
        for (const q of to) {
          const d = p.distanceTo(q);
          if (d < best) { best = d; found = q; }
        }
        break;
      }
    }
    return found;
  });
}

function nearestMean(from, to, cell) {
  const found = nearest(from, to, cell);
  return from.reduce((total, p, i) => total + p.distanceTo(found[i]), 0) / from.length;
}

// The other models are placed where their rest mesh best matches the artist's: the median offset to the
// nearest artist point, three times over. The meshes are the same, so this takes out a move of the whole
// avatar (a rig that grounds it by another foot) and nothing else.
function matched(points, target, height) {
  const origin = frame(points).origin;
  for (let round = 0; round < 3; round++) {
    const placed = points.map((p) => p.clone().sub(origin).divideScalar(height));
    const found = nearest(placed, target, 0.02);
    const offsets = placed.map((p, i) => found[i].clone().sub(p));
    origin.sub(new Vector3(median(offsets.map((o) => o.x)), median(offsets.map((o) => o.y)),
      median(offsets.map((o) => o.z))).multiplyScalar(height));
  }
  return origin;
}

const [autoFile, artistFile, referenceFile] = process.argv.slice(2);
const models = [await load(autoFile), await load(artistFile)];
const reference = referenceFile ? await load(referenceFile) : models[1];
const rests = [...models, reference].map(surface);
const artist = frame(rests[1]);
const height = artist.height;  // one scale for all: the same mesh, so a rig that changed its size shows
const target = rests[1].map((p) => p.clone().sub(artist.origin).divideScalar(height));
const origins = rests.map((points, i) => (i === 1 ? artist.origin : matched(points, target, height)));
const place = (i) => (p) => p.clone().sub(origins[i]).divideScalar(height);
const joints = {};
for (const bone of REQUIRED) {
  const [a, b] = [models[0], reference].map((vrm, i) =>
    place(2 * i)(vrm.humanoid.getRawBoneNode(bone).getWorldPosition(new Vector3())));
  joints[bone] = a.distanceTo(b);
}
for (const vrm of models) {
  for (const [bone, [x, y, z]] of Object.entries(POSE)) vrm.humanoid.getNormalizedBoneNode(bone)?.rotation.set(x, y, z);
}
const posed = models.map((vrm, i) => surface(vrm).map(place(i)));
const surfaceError = (nearestMean(posed[0], posed[1], 0.02) + nearestMean(posed[1], posed[0], 0.02)) / 2;
const errors = Object.values(joints).sort((a, b) => a - b);
console.log(JSON.stringify({
  height,
  joints,
  joint_median: errors[Math.floor(errors.length / 2)],
  joint_worst: errors[errors.length - 1],
  surface: surfaceError,
}));
