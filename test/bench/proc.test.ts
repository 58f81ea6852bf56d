import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sample } from '../../bench/proc.js';

test('bench proc: private memory is the part of RSS no other process shares', () => {
  const s = sample({ role: 'self', pid: process.pid });
  assert.ok(s.alive);
  // A Node process maps node's binary (shared with every other node process), so its
  // private memory is well under its RSS, and not zero (the V8 heap is private).
  assert.ok(s.privateMB > 5, `private ${s.privateMB} MB`);
  assert.ok(s.privateMB < s.rssMB, `private ${s.privateMB} MB vs RSS ${s.rssMB} MB`);
});

test('bench proc: a process group sums its members, and a forked child shares its pages', async () => {
  const child = spawn(process.execPath, ['-e', 'require("node:child_process").spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" }); setTimeout(() => {}, 30000)'], { detached: true, stdio: 'ignore' });
  try {
    const leader = child.pid!;
    let group = sample({ role: 'g', pid: leader, group: true });
    const deadline = Date.now() + 10_000;
    // Wait until both processes are up (the group's RSS is then about two node processes).
    while (Date.now() < deadline) {
      const one = sample({ role: 'one', pid: leader });
      group = sample({ role: 'g', pid: leader, group: true });
      if (group.rssMB > one.rssMB * 1.5) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const one = sample({ role: 'one', pid: leader });
    assert.ok(group.rssMB > one.rssMB * 1.5, `group RSS ${group.rssMB} vs leader ${one.rssMB}`);
    assert.ok(group.privateMB > one.privateMB, `group private ${group.privateMB} vs leader ${one.privateMB}`);
    assert.ok(group.privateMB < group.rssMB);
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
  }
});
