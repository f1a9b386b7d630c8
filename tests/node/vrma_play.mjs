// Plays VRM Animation clips on an avatar the way companions-frontend would (three + @pixiv/three-vrm +
// @pixiv/three-vrm-animation) and prints, per clip and sampled time, how far each humanoid bone turned
// from its rest pose (degrees, normalized humanoid), and where the hips moved (metres).
//   node vrma_play.mjs AVATAR.vrm SECONDS[,SECONDS...] CLIP.vrma [CLIP.vrma ...]
// A clip that cannot be loaded or bound gets {"file", "error"}; the exit code is then 1.
import { readFile } from 'node:fs/promises';
import { AnimationMixer, Quaternion } from 'three';
import { VRMAnimationLoaderPlugin, createVRMAnimationClip } from '@pixiv/three-vrm-animation';
import { parseGLB } from './three_vrm.mjs';

async function parse(file) {
  const bytes = await readFile(file);
  return parseGLB(bytes, (parser) => new VRMAnimationLoaderPlugin(parser));
}

const [avatarFile, times, ...clips] = process.argv.slice(2);
const avatar = await parse(avatarFile);
const vrm = avatar.userData.vrm;
if (!vrm) throw new Error(`${avatarFile} is no VRM`);
const bones = Object.keys(vrm.humanoid.humanBones);
const rest = Object.fromEntries(bones.map((b) => [b, vrm.humanoid.getNormalizedBoneNode(b).quaternion.clone()]));
const restHips = vrm.humanoid.getNormalizedBoneNode('hips').position.clone();

const out = [];
let failed = false;
for (const file of clips) {
  try {
    const gltf = await parse(file);
    const animations = gltf.userData.vrmAnimations;
    if (!animations?.length) throw new Error('no VRM animation in the file');
    const clip = createVRMAnimationClip(animations[0], vrm);
    const mixer = new AnimationMixer(vrm.scene);
    mixer.clipAction(clip).play();
    const samples = times.split(',').map(Number).map((seconds) => {
      mixer.setTime(seconds);
      vrm.update(0);
      const turned = {};
      for (const bone of bones) {
        const now = vrm.humanoid.getNormalizedBoneNode(bone).quaternion;
        turned[bone] = (rest[bone].angleTo(new Quaternion().copy(now)) * 180) / Math.PI;
      }
      const hips = vrm.humanoid.getNormalizedBoneNode('hips').position;
      return { seconds, turned, hips_moved: hips.distanceTo(restHips) };
    });
    mixer.stopAllAction();
    out.push({ file, duration: clip.duration, tracks: clip.tracks.length, samples });
  } catch (error) {
    failed = true;
    out.push({ file, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(out));
process.exitCode = failed ? 1 : 0;
