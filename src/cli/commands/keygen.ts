import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { generateSigningKeyPair } from '../../transport/signature.js';
import { fsyncDirectory, tempPathFor, writeFileAtomic } from '../../util/atomic-file.js';
import { EdgetuneError } from '../../util/errors.js';

/** `edgetune keygen --out DIR`: an ed25519 key pair for signed pushes (operator.key private, operator.pub public). */
export const commandModule: CommandModule = {
  command: 'keygen',
  describe: 'make an ed25519 key pair for signed pushes (DIR/operator.key, DIR/operator.pub)',
  builder: (y: Argv) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'directory for operator.key and operator.pub' })
      .option('name', { type: 'string', default: 'operator', describe: 'file name stem' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite existing key files' })
      .option('json', { type: 'boolean', default: false, describe: 'print exactly one JSON object on stdout (progress and logs go to stderr)' }),
  handler: async (args) => {
    const dir = resolve(String(args.out));
    const name = String(args.name);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new EdgetuneError('USAGE', `--name '${name}' must match [A-Za-z0-9_-]{1,64}`);
    const privatePath = join(dir, `${name}.key`);
    const publicPath = join(dir, `${name}.pub`);
    if (args.force !== true) {
      for (const p of [privatePath, publicPath]) if (existsSync(p)) throw new EdgetuneError('USAGE', `${p} exists; refusing to overwrite a key (use --force)`);
    }
    mkdirSync(dir, { recursive: true });
    const pair = generateSigningKeyPair();
    writeFileAtomic(publicPath, pair.publicKeyPem);
    writePrivateFile(privatePath, pair.privateKeyPem);
    if (args.json === true) process.stdout.write(`${JSON.stringify({ privateKey: privatePath, publicKey: publicPath, keyId: pair.keyId })}\n`);
    else {
      process.stdout.write(`private key ${privatePath} (keep it on the operator machine; push --key ${privatePath})\n`);
      process.stdout.write(`public key  ${publicPath} (list it in each agent's trustedKeys)\nkey id      ${pair.keyId}\n`);
    }
  },
};

/** Like writeFileAtomic, but the file is created 0600 from the first byte (a private key is never world-readable). */
function writePrivateFile(finalPath: string, text: string): void {
  const temp = tempPathFor(finalPath);
  const bytes = Buffer.from(text, 'utf8');
  const fd = openSync(temp, 'wx', 0o600);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, finalPath);
    fsyncDirectory(resolve(finalPath, '..'));
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temp, { force: true });
    throw error;
  }
}
