/**
 * The quick-start loop in one command (`npm run demo`): make an operator key, start an agent on the embedded MQTT
 * broker, push the bundled residual-CNN model to it with its calibration data (`deploy`: the agent plans,
 * compresses, profiles and activates it), print the device's report, stop the agent. Everything real: the agent is
 * `edgetune start` in its own process, the push is `edgetune push --wait` over MQTT.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const root = process.cwd();
const bin = join(root, 'bin/edgetune.js');
const work = join(root, '.edgetune-demo');
const model = join(root, 'test/fixtures/models/mnist-rescnn.onnx');
const data = join(root, 'test/fixtures/data/mnist-calib');

function cli(args: string[], inherit = false): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: work, encoding: 'utf8', stdio: inherit ? ['ignore', 'inherit', 'inherit'] : 'pipe' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm install` (it builds) or `npm run build` first');
  mkdirSync(work, { recursive: true });
  if (!existsSync(join(work, 'keys/operator.key'))) {
    const k = cli(['keygen', '--out', 'keys']);
    if (k.status !== 0) throw new Error(`keygen failed: ${k.stderr}`);
  }
  const port = await freePort();
  const broker = `mqtt://127.0.0.1:${port}`;
  writeFileSync(
    join(work, 'agent.config.json'),
    `${JSON.stringify({ deviceId: 'demo-device', groups: ['demo'], broker: { url: 'embedded', port }, dataDir: './agent-data', trustedKeys: ['./keys/operator.pub'] }, null, 2)}\n`,
  );
  process.stderr.write(`edgetune demo: starting an agent on the embedded broker (${broker})\n`);
  const agent: ChildProcess = spawn(process.execPath, [bin, 'start', '--config', 'agent.config.json'], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let agentLog = '';
  agent.stderr?.on('data', (chunk: Buffer) => {
    agentLog += chunk.toString();
  });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const d = cli(['devices', '--broker', broker, '--data-dir', 'operator', '--settle-ms', '300', '--json']);
      if (d.status === 0 && (JSON.parse(d.stdout) as { devices: Array<{ deviceId: string; state: string }> }).devices.some((x) => x.deviceId === 'demo-device' && x.state === 'online')) break;
      if (agent.exitCode !== null) throw new Error(`the agent exited (code ${agent.exitCode}):\n${agentLog}`);
      if (Date.now() > deadline) throw new Error(`the agent did not come online within 60 s:\n${agentLog}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    process.stderr.write('edgetune demo: agent online; pushing the residual CNN with its calibration data (deploy: plan → compress → profile → activate)\n');
    const push = cli(['push', model, '--device', 'demo-device', '--action', 'deploy', '--data', data, '--key', 'keys/operator.key', '--broker', broker, '--data-dir', 'operator', '--wait', '--timeout', '600'], true);
    if (push.status !== 0) throw new Error(`push failed with exit code ${push.status}`);
    process.stderr.write('edgetune demo: done. The operator store is in .edgetune-demo/operator; try `npx edgetune results --data-dir .edgetune-demo/operator`.\n');
  } finally {
    agent.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`edgetune demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
