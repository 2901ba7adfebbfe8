// Validates glTF files (GLB, or b3dm/glb content of 3D Tiles) with the Khronos glTF-Validator
// and prints one JSON line per file: {file, errors, warnings, messages}. A b3dm is validated by
// the GLB inside it. Usage: NODE_PATH=<node_modules> node gltf_validate.js FILE...
const fs = require('fs');
const validator = require('gltf-validator');

function glbOf(bytes) {
  if (bytes.slice(0, 4).toString() === 'b3dm') {
    const ft = bytes.readUInt32LE(12), ftb = bytes.readUInt32LE(16);
    const bt = bytes.readUInt32LE(20), btb = bytes.readUInt32LE(24);
    return bytes.slice(28 + ft + ftb + bt + btb);
  }
  return bytes;
}

(async () => {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const bytes = glbOf(fs.readFileSync(file));
    const report = await validator.validateBytes(new Uint8Array(bytes), { uri: file, maxIssues: 50 });
    const issues = report.issues;
    const messages = issues.messages.filter((m) => m.severity <= 1).map((m) => `${m.code}: ${m.message} (${m.pointer || ''})`);
    console.log(JSON.stringify({ file, errors: issues.numErrors, warnings: issues.numWarnings, messages }));
    if (issues.numErrors > 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
