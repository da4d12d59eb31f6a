import { chromium, type Browser } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's Chromium (installed by scripts/setup-test-deps.sh), headless, with the flags of ../shared/NOTES.md (chromium-args.json). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: run scripts/setup-test-deps.sh`);
  return chromium.launch({
    executablePath,
    args: [...(JSON.parse(readFileSync(join(__dirname, 'chromium-args.json'), 'utf8')) as string[]), ...extraArgs],
  });
}

/** `test-artifacts/<name>` (gitignored), the directory created. */
export function artifactPath(name: string): string {
  const dir = join(__dirname, '..', '..', 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
