// Where each mesh of a converted avatar sits against where three.js puts it in the source file.
//   node mesh_placement.mjs SOURCE CONVERTED [SOURCE CONVERTED ...]
// Loads both files the way companions-frontend does (three's GLTFLoader; three-vrm for a VRM), each in its
// bind pose (parts carried by bones follow them), and takes every mesh's vertices as three.js shows them (skinned, in world space), grouped by
// the name of the glTF node that carries them (a mesh split into primitives is one node). Convert moves the
// whole avatar once (metres, feet on the ground, facing +z): that similarity is taken out (the scale from the
// heights, the place from the bounds' floor centre, the turn about the vertical that fits all points best),
// then each node's point sets are compared both ways (each vertex's distance to the nearest vertex of the
// same node in the other file). Prints one JSON object: per pair, {height, turn, nodes: {name: {worst, mean}},
// only_source, only_converted}, distances as a share of the source's height; {error} per pair that fails.
import { readFile } from 'node:fs/promises';
import { Vector3 } from 'three';
import { parseGLB } from './three_vrm.mjs';

// Node name -> flat xyz array of its meshes' vertices in world space.
async function load(file) {
  const gltf = await parseGLB(await readFile(file));
  gltf.scene.updateMatrixWorld(true);
  // The bind pose: Blender imports it as the rest pose (a file's nodes may hold another pose).
  const skeletons = new Set();
  gltf.scene.traverse((mesh) => mesh.isSkinnedMesh && skeletons.add(mesh.skeleton));
  for (const skeleton of skeletons) skeleton.pose();
  gltf.scene.updateMatrixWorld(true);
  const json = gltf.parser.json;
  const nodeName = (object) => {
    for (let o = object; o; o = o.parent) {
      const index = gltf.parser.associations.get(o)?.nodes;
      if (index !== undefined) return json.nodes[index].name ?? `node ${index}`;
    }
    return object.name;
  };
  const groups = new Map();
  const v = new Vector3();
  gltf.scene.traverse((mesh) => {
    if (!mesh.isMesh) return;
    const name = nodeName(mesh);
    if (!groups.has(name)) groups.set(name, []);
    const list = groups.get(name);
    const count = mesh.geometry.attributes.position.count;
    for (let i = 0; i < count; i++) {
      mesh.getVertexPosition(i, v); // skinned and morphed (every weight 0: the rest shape)
      v.applyMatrix4(mesh.matrixWorld);
      list.push(v.x, v.y, v.z);
    }
  });
  return groups;
}

function bounds(groups) {
  const low = [Infinity, Infinity, Infinity], high = [-Infinity, -Infinity, -Infinity];
  for (const points of groups.values()) {
    for (let i = 0; i < points.length; i++) {
      low[i % 3] = Math.min(low[i % 3], points[i]);
      high[i % 3] = Math.max(high[i % 3], points[i]);
    }
  }
  return { low, high, height: high[1] - low[1] };
}

// The converted points in the source's frame: turned by `quarter` quarter turns about y, scaled, moved.
function mapped(groups, from, to, quarter) {
  const scale = to.height / from.height;
  const [c, s] = [[1, 0], [0, 1], [-1, 0], [0, -1]][quarter];
  const centre = (b) => [(b.low[0] + b.high[0]) / 2, b.low[1], (b.low[2] + b.high[2]) / 2];
  const a = centre(from);
  const out = new Map();
  for (const [name, points] of groups) {
    const moved = new Float64Array(points.length);
    for (let i = 0; i < points.length; i += 3) {
      const x = points[i] - a[0], y = points[i + 1] - a[1], z = points[i + 2] - a[2];
      moved[i] = (c * x + s * z) * scale;
      moved[i + 1] = y * scale;
      moved[i + 2] = (-s * x + c * z) * scale;
    }
    out.set(name, moved);
  }
  // The turned box's floor centre onto the source's.
  const b = bounds(out), target = centre(to), now = centre(b);
  for (const moved of out.values()) {
    for (let i = 0; i < moved.length; i += 3) {
      for (let k = 0; k < 3; k++) moved[i + k] += target[k] - now[k];
    }
  }
  return out;
}

// For each point of `from`, the distance to the nearest point of `to` (a uniform grid of `cell`).
function distances(from, to, cell, every = 1, pairs = false) {
  const grid = new Map();
  const key = (x, y, z) => `${x},${y},${z}`;
  for (let j = 0; j < to.length; j += 3) {
    const k = key(Math.floor(to[j] / cell), Math.floor(to[j + 1] / cell), Math.floor(to[j + 2] / cell));
    if (!grid.has(k)) grid.set(k, []);
    grid.get(k).push(j);
  }
  const out = [];
  for (let i = 0; i < from.length; i += 3 * every) {
    const [x, y, z] = [from[i], from[i + 1], from[i + 2]];
    const cx = Math.floor(x / cell), cy = Math.floor(y / cell), cz = Math.floor(z / cell);
    let best = Infinity, at = -1;
    const see = (j) => {
      const d = Math.hypot(x - to[j], y - to[j + 1], z - to[j + 2]);
      if (d < best) { best = d; at = j; }
    };
    for (let r = 0; best > r * cell; r++) {
      if (r > 6) { // far from everything: a scan beats ever wider shells
        for (let j = 0; j < to.length; j += 3) see(j);
        break;
      }
      for (let gx = cx - r; gx <= cx + r; gx++) for (let gy = cy - r; gy <= cy + r; gy++) for (let gz = cz - r; gz <= cz + r; gz++) {
        if (Math.max(Math.abs(gx - cx), Math.abs(gy - cy), Math.abs(gz - cz)) < r) continue;
        for (const j of grid.get(key(gx, gy, gz)) ?? []) see(j);
      }
    }
    out.push(pairs ? [best, i, at] : best);
  }
  return out;
}

// Fits the scale and place of all points to the source's by trimmed nearest-point matching, a few times
// over: a part out of place must not move the rest (bounds alone follow a floating foot).
function refine(placed, target, cell) {
  for (let round = 0; round < 4; round++) {
    const points = all(placed);
    const pairs = nearestPairs(points, target, cell, 3);
    pairs.sort((a, b) => a.d - b.d);
    const kept = pairs.slice(0, Math.max(1, Math.floor(pairs.length * 0.7)));
    const pm = [0, 0, 0], qm = [0, 0, 0];
    for (const { p, q } of kept) for (let k = 0; k < 3; k++) { pm[k] += p[k] / kept.length; qm[k] += q[k] / kept.length; }
    let num = 0, den = 0;
    for (const { p, q } of kept) for (let k = 0; k < 3; k++) { num += (p[k] - pm[k]) * (q[k] - qm[k]); den += (p[k] - pm[k]) ** 2; }
    const scale = num / den;
    for (const moved of placed.values()) {
      for (let i = 0; i < moved.length; i += 3) for (let k = 0; k < 3; k++) moved[i + k] = (moved[i + k] - pm[k]) * scale + qm[k];
    }
  }
}

function nearestPairs(from, to, cell, every) {
  const found = distances(from, to, cell, every, true);
  return found.map(([d, i, j]) => ({ d, p: [from[i], from[i + 1], from[i + 2]], q: [to[j], to[j + 1], to[j + 2]] }));
}

const all = (groups) => Float64Array.from([...groups.values()].flatMap((p) => Array.from(p)));
const mean = (values) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);

async function compare(sourceFile, convertedFile) {
  const source = await load(sourceFile);
  const converted = await load(convertedFile);
  const from = bounds(converted), to = bounds(source);
  const cell = to.height / 50;
  const sourceAll = all(source);
  // The turn that fits best: the mean nearest distance of a sample of all points, both ways.
  let best = null;
  for (let quarter = 0; quarter < 4; quarter++) {
    const placed = mapped(converted, from, to, quarter);
    const placedAll = all(placed);
    const fit = mean(distances(placedAll, sourceAll, cell, 7)) + mean(distances(sourceAll, placedAll, cell, 7));
    if (!best || fit < best.fit) best = { fit, quarter, placed };
  }
  refine(best.placed, sourceAll, cell);
  const nodes = {};
  for (const [name, points] of source) {
    const other = best.placed.get(name);
    if (!other) continue;
    const both = [...distances(points, other, cell), ...distances(other, points, cell)];
    nodes[name] = { worst: Math.max(...both) / to.height, mean: mean(both) / to.height };
  }
  return {
    height: to.height,
    turn: best.quarter * 90,
    nodes,
    only_source: [...source.keys()].filter((n) => !best.placed.has(n)).sort(),
    only_converted: [...best.placed.keys()].filter((n) => !source.has(n)).sort(),
  };
}

const args = process.argv.slice(2);
const result = {};
for (let i = 0; i + 1 < args.length; i += 2) {
  try {
    result[args[i + 1]] = await compare(args[i], args[i + 1]);
  } catch (error) {
    result[args[i + 1]] = { error: String(error?.stack ?? error) };
  }
}
process.stdout.write(JSON.stringify(result));
