/** Read and validate device-profiles/*.json (the package's profiles, or another directory). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDeviceProfile, type DeviceProfile } from './device-profile.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** The package's device-profiles/ directory (two levels above src/hardware and dist/hardware). */
export function defaultDeviceProfilesDir(): string {
  return fileURLToPath(new URL('../../device-profiles/', import.meta.url));
}

/** Load every *.json profile of a directory, sorted by name. Throws CONFIG_INVALID naming the file on any problem. */
export function loadDeviceProfiles(dir: string = defaultDeviceProfilesDir()): DeviceProfile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (error) {
    throw new EdgetuneError('CONFIG_INVALID', `cannot read device profiles directory '${dir}': ${messageOf(error)}`, { cause: error });
  }
  const profiles: DeviceProfile[] = [];
  for (const file of names) {
    const path = join(dir, file);
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new EdgetuneError('CONFIG_INVALID', `device profile '${path}' is not valid JSON: ${messageOf(error)}`, { cause: error });
    }
    const profile = parseDeviceProfile(value, `'${path}'`);
    if (`${profile.name}.json` !== file) throw new EdgetuneError('CONFIG_INVALID', `device profile '${path}' is named '${profile.name}': the file must be '${profile.name}.json'`);
    profiles.push(profile);
  }
  if (profiles.length === 0) throw new EdgetuneError('CONFIG_INVALID', `no device profiles (*.json) in '${dir}'`);
  return profiles;
}
