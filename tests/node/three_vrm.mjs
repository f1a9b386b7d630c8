// How companions-frontend loads a VRM, in node: three's GLTFLoader with MeshoptDecoder (the one line web
// presets' compressed geometry needs) and @pixiv/three-vrm; and the Khronos validator's verdict on the bytes.
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { VRMLoaderPlugin } from '@pixiv/three-vrm';
import { MeshoptDecoder } from 'meshoptimizer/decoder';
import validator from 'gltf-validator';

// three's loaders expect a browser: no WebGL is needed to parse, only these two globals.
globalThis.self ??= globalThis;
// Textures are not drawn here; a stand-in bitmap of the right kind is enough to build the materials.
globalThis.createImageBitmap ??= async () => ({ width: 1, height: 1, close() {} });

// Parses a .vrm/.glb/.vrma's bytes (a node Buffer); `plugins` are further loader plugin factories.
export function parseGLB(bytes, ...plugins) {
  const loader = new GLTFLoader();
  loader.setMeshoptDecoder(MeshoptDecoder);
  loader.register((parser) => new VRMLoaderPlugin(parser));
  for (const plugin of plugins) loader.register(plugin);
  return loader.parseAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), '');
}

export async function validate(bytes) {
  const report = await validator.validateBytes(new Uint8Array(bytes), { maxIssues: 200 });
  const errors = report.issues.messages.filter((m) => m.severity === 0);
  return {
    errors: report.issues.numErrors,
    warnings: report.issues.numWarnings,
    error_messages: errors.slice(0, 10).map((m) => `${m.code} ${m.pointer ?? ''}: ${m.message}`),
    warning_codes: [...new Set(report.issues.messages.filter((m) => m.severity === 1).map((m) => m.code))].sort(),
  };
}
