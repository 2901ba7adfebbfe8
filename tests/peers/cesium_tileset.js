// Loads a 3D Tiles tileset in CesiumJS in headless Chromium and counts the pixels it draws.
// Usage: NODE_PATH=<node_modules with cesium and playwright-core> node cesium_tileset.js DIR
// Prints one JSON line: {pixels, failed: [tile errors], errors: [page errors], loaded}.
// The tileset is drawn unlit in pure red on black, seen from above, at 800×600.
const http = require('http');
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const tilesDir = path.resolve(process.argv[2]);
const cesiumDir = path.join(path.dirname(require.resolve('cesium/package.json')), 'Build', 'Cesium');
const types = { '.js': 'text/javascript', '.json': 'application/json', '.css': 'text/css', '.glb': 'model/gltf-binary',
  '.b3dm': 'application/octet-stream', '.html': 'text/html', '.wasm': 'application/wasm' };

const page = `<!doctype html><html><head><script src="/cesium/Cesium.js"></script>
<link href="/cesium/Widgets/widgets.css" rel="stylesheet"></head>
<body style="margin:0"><div id="c" style="width:800px;height:600px"></div><div id="credits" style="display:none"></div>
<script>
window.result = null;
(async () => {
  const failed = [];
  try {
    Cesium.Ion.defaultAccessToken = '';
    const viewer = new Cesium.Viewer('c', { baseLayer: false, terrainProvider: new Cesium.EllipsoidTerrainProvider(),
      geocoder: false, baseLayerPicker: false, timeline: false, animation: false, skyBox: false, skyAtmosphere: false,
      homeButton: false, sceneModePicker: false, navigationHelpButton: false, fullscreenButton: false, infoBox: false,
      selectionIndicator: false, creditContainer: document.getElementById('credits'),
      contextOptions: { webgl: { preserveDrawingBuffer: true } } });
    viewer.scene.globe.show = false;
    viewer.scene.backgroundColor = Cesium.Color.BLACK;
    viewer.scene.fog.enabled = false;
    const tileset = await Cesium.Cesium3DTileset.fromUrl('/tiles/tileset.json');
    tileset.customShader = new Cesium.CustomShader({ lightingModel: Cesium.LightingModel.UNLIT,
      fragmentShaderText: 'void fragmentMain(FragmentInput fsInput, inout czm_modelMaterial material) { material.diffuse = vec3(1.0, 0.0, 0.0); }' });
    tileset.tileFailed.addEventListener((e) => failed.push(String(e.message || e.url)));
    let all = false;
    tileset.allTilesLoaded.addEventListener(() => { all = true; });
    viewer.scene.primitives.add(tileset);
    await viewer.zoomTo(tileset, new Cesium.HeadingPitchRange(0, -Cesium.Math.PI_OVER_TWO, tileset.boundingSphere.radius * 2.5));
    let stable = 0;
    for (let frame = 0; frame < 1200 && stable < 10; frame++) {
      viewer.scene.render();
      await new Promise((r) => requestAnimationFrame(r));
      stable = all && tileset.tilesLoaded ? stable + 1 : 0;
    }
    viewer.scene.render();
    const gl = viewer.scene.canvas;
    const c2 = document.createElement('canvas');
    c2.width = gl.width; c2.height = gl.height;
    const ctx = c2.getContext('2d');
    ctx.drawImage(gl, 0, 0);
    const d = ctx.getImageData(0, 0, c2.width, c2.height).data;
    let pixels = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 60 && d[i + 2] < 60) pixels++;
    window.result = { pixels, failed, loaded: stable >= 10, width: c2.width, height: c2.height };
  } catch (e) {
    window.result = { pixels: 0, failed, errors: [String(e && e.stack || e)], loaded: false };
  }
})();
</script></body></html>`;

const server = http.createServer((req, res) => {
  const url = decodeURIComponent(req.url.split('?')[0]);
  let file = null;
  if (url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(page); return; }
  if (url.startsWith('/cesium/')) file = path.join(cesiumDir, url.slice(8));
  if (url.startsWith('/tiles/')) file = path.join(tilesDir, url.slice(7));
  if (!file || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});

(async () => {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const browser = await chromium.launch({ executablePath: process.env.CIM_CHROMIUM || '/usr/bin/chromium', headless: true,
    // Chromium's own update and component pings go to a dead proxy; the local server is direct.
    args: ['--proxy-server=127.0.0.1:9', '--no-sandbox'] });
  const errors = [];
  try {
    const p = await browser.newPage({ viewport: { width: 800, height: 600 } });
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(`http://127.0.0.1:${port}/`);
    await p.waitForFunction(() => window.result !== null, null, { timeout: 90000 });
    const result = await p.evaluate(() => window.result);
    result.errors = (result.errors || []).concat(errors);
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
    server.close();
  }
})().catch((e) => { console.error(e); process.exit(2); });
