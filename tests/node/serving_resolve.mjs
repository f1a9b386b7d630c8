// Resolves promoted files with the generated serving module, the way a frontend would, against tiers
// whose URLs are served from local folders (a stand-in fetch: URL prefix -> folder).
//   node serving_resolve.mjs MODULE.js '{"/assets/models/": "DIR", "https://cdn/models/": "DIR"}' FILE [FILE ...]
// Prints {"lan": {FILE: URL or {"error"}}, "remote": {...}, "indexes": {tier: {format, models, animations}}}.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

const [modulePath, servedJson, ...files] = process.argv.slice(2);
const served = JSON.parse(servedJson);
const requested = [];

async function fetch(url, options) {
  requested.push({ url, cache: options?.cache ?? null });
  for (const [prefix, folder] of Object.entries(served)) {
    if (url.startsWith(prefix)) {
      try {
        const text = await readFile(`${folder}/${url.slice(prefix.length)}`, 'utf8');
        return { ok: true, status: 200, json: async () => JSON.parse(text) };
      } catch {
        return { ok: false, status: 404, json: async () => null };
      }
    }
  }
  return { ok: false, status: 404, json: async () => null };
}

const forge = await import(pathToFileURL(modulePath).href);
const out = { lan: {}, remote: {}, indexes: {}, requested };
for (const [tier, remote] of [['lan', false], ['remote', true]]) {
  for (const file of files) {
    try {
      out[tier][file] = await forge.resolveModelURL(file, { remote, fetch });
    } catch (error) {
      out[tier][file] = { error: String(error?.message ?? error) };
    }
  }
  const index = await forge.loadIndex(tier, { fetch });
  out.indexes[tier] = { format: index.format, models: index.models, animations: index.animations };
}
process.stdout.write(JSON.stringify(out));
