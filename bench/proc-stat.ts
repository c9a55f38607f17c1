// CPU times from Linux's /proc/<pid>/stat, in clock ticks (USER_HZ, 100 a
// second). The command name is in parentheses and may hold spaces, so the
// fields are counted after it: state is the first.
import { readFileSync } from 'node:fs';

export type CpuField = 'utime' | 'stime' | 'cutime' | 'cstime';

/** Their positions after the command name (stat(5) numbers them 14-17). */
const AT: Record<CpuField, number> = { utime: 11, stime: 12, cutime: 13, cstime: 14 };

/** The sum of `which` in the stat file `file`; throws where it cannot be read. */
export function statTicks(file: string, which: CpuField[]): number {
  const fields = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return which.reduce((sum, name) => sum + Number(fields[AT[name]]), 0);
}
