// Copies the dashboard's third-party files from the pinned npm package (uplot, see
// package.json and package-lock.json) into ../assets/vendor, where go:embed takes
// them, so that `go build` needs no npm. With --check it copies nothing and exits 1
// when a checked-in file differs from the installed package's: make test-js runs it
// after npm ci, so the embedded files are always the pinned release, byte for byte.
import { readFileSync, writeFileSync } from 'node:fs';

const files = [
  ['node_modules/uplot/dist/uPlot.iife.min.js', '../assets/vendor/uPlot.iife.min.js'],
  ['node_modules/uplot/dist/uPlot.min.css', '../assets/vendor/uPlot.min.css'],
  ['node_modules/uplot/LICENSE', '../assets/vendor/uPlot.LICENSE.txt'],
];

const check = process.argv.includes('--check');
let differing = 0;
for (const [from, to] of files) {
  const source = readFileSync(new URL(from, import.meta.url));
  const target = new URL(to, import.meta.url);
  if (!check) {
    writeFileSync(target, source);
    continue;
  }
  let current;
  try {
    current = readFileSync(target);
  } catch {
    current = null;
  }
  if (current === null || !current.equals(source)) {
    console.error(`dashboard/assets/vendor: ${to.slice('../assets/vendor/'.length)} differs from ${from}; run make dashboard-assets`);
    differing++;
  }
}
if (check) {
  if (differing > 0) {
    process.exit(1);
  }
  console.log(`dashboard/assets/vendor matches the pinned uplot ${JSON.parse(readFileSync(new URL('node_modules/uplot/package.json', import.meta.url))).version}`);
}
