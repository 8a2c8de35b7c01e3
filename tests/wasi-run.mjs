// wasi-run.mjs - runs a wasm32-wasi (preview 1) command module under node and exits
// with its exit code. The CTest emulator of cmake/wasm32-wasi.cmake:
//
//   node tests/wasi-run.mjs program.wasm [args...]
//
// The program sees its arguments, the environment and the current directory
// (preopened as "."). A trap (abort(), unreachable) exits with 134, like SIGABRT.
// Node 20 has node:wasi without a flag; node 18 needs
// --experimental-wasi-unstable-preview1, so the runner restarts itself with it.
import { readFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import v8 from 'node:v8';

// Node 20's V8 sometimes dies with "Fatal error ... unreachable code" in a
// concurrent-marking GC triggered by memory.grow; marking on the main thread only
// avoids it (programs here are small, GC cost does not matter).
v8.setFlagsFromString('--no-concurrent-marking');

const WASI_FLAG = '--experimental-wasi-unstable-preview1';

// node:wasi announces itself with an ExperimentalWarning on stderr; tests compare
// stderr, so drop exactly that warning and keep all others.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  const text = String(warning?.message ?? warning);
  if ((type === 'ExperimentalWarning' || warning?.name === 'ExperimentalWarning') &&
      /WASI/.test(text)) return;
  emitWarning(warning, ...rest);
};

async function loadWasi() {
  try {
    return (await import('node:wasi')).WASI;
  } catch (err) {
    if (process.execArgv.includes(WASI_FLAG)) throw err;
    return null;
  }
}

function rerunWithFlag() {
  const r = spawnSync(process.execPath,
                      [WASI_FLAG, '--no-warnings', ...process.execArgv,
                       ...process.argv.slice(1)],
                      { stdio: 'inherit' });
  process.exit(r.status ?? 134);
}

const [program, ...args] = process.argv.slice(2);
if (!program) {
  console.error('usage: node wasi-run.mjs program.wasm [args...]');
  process.exit(2);
}

const WASI = await loadWasi();
if (!WASI) rerunWithFlag();

const wasi = new WASI({
  version: 'preview1',
  args: [program, ...args],
  env: process.env,
  preopens: { '.': process.cwd() },
  returnOnExit: true,
});

let code;
try {
  const module = await WebAssembly.compile(await readFile(program));
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  code = wasi.start(instance);
} catch (err) {
  // A trap's stack names the wasm functions (Debug builds keep the name section).
  const what = err instanceof WebAssembly.RuntimeError ? 'trap: ' : '';
  console.error(`wasi-run: ${program}: ${what}${err?.stack ?? err}`);
  code = 134;
}
process.exitCode = code;
