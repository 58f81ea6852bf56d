import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { sample } from '../../bench/proc.js';

test('bench proc: private memory is the part of RSS no other process shares', () => {
  const s = sample({ role: 'self', pid: process.pid });
  assert.ok(s.alive);
  // A Node process maps node's binary (shared with every other node process), so its
  // private memory is well under its RSS, and not zero (the V8 heap is private).
  assert.ok(s.privateMB > 5, `private ${s.privateMB} MB`);
  assert.ok(s.privateMB < s.rssMB, `private ${s.privateMB} MB vs RSS ${s.rssMB} MB`);
});

test('bench proc: a process group counts every member: RSS and private memory of two node processes', async () => {
  const child = spawn(process.execPath, ['-e', 'require("node:child_process").spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" }); setTimeout(() => {}, 30000)'], { detached: true, stdio: 'ignore' });
  try {
    const leader = child.pid!;
    // Wait until the group has its second process, then let both finish starting (they idle after).
    const deadline = Date.now() + 10_000;
    while (members(leader) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(members(leader), 2, 'the grandchild started');
    await new Promise((r) => setTimeout(r, 1000));
    const one = sample({ role: 'one', pid: leader });
    const group = sample({ role: 'g', pid: leader, group: true });
    assert.ok(group.rssMB > one.rssMB * 1.5, `group RSS ${group.rssMB} vs leader ${one.rssMB}`);
    assert.ok(group.privateMB > one.privateMB * 1.5, `group private ${group.privateMB} vs leader ${one.privateMB}`);
    assert.ok(group.privateMB < group.rssMB);
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
  }
});

/** How many processes are in the process group `pgid`. */
function members(pgid: number): number {
  let n = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[2]) === pgid) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
