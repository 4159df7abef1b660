// Interop cases 4, 5 and 6 (issue 14), both directions, on one real PostgreSQL per direction whose backups the
// writer pushed: a tablespace outside PGDATA (sentinel Spec, `--restore-spec` relocation), a permanent backup,
// `backup-mark`, `--add-user-data` / `--target-user-data`; `wal-show --detailed-json` and
// `wal-verify integrity timeline --json` give the same statuses and fields; `delete retain|before|target|garbage`
// dry runs of both tools name the same objects, and after `--confirm` by the reader the rest restores with the writer.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { initCluster, pgIdentity, userTempDir } from '../servers/postgres.ts';
import type { PgCluster } from '../servers/postgres.ts';
import { restoreWith, switchAndArchive } from './pg.ts';
import { DIRECTIONS, REFERENCE, ok, pushedName, run, writeConfig } from './harness.ts';
import type { Tool } from './harness.ts';

const skip = REFERENCE.pg ? false : 'WALG_REFERENCE_PG is not set';

interface Setup { work: string; cfg: string; c: PgCluster; tablespace: string; tsOid: string; names: string[]; dumps: string[]; rpDump: string }

/** Objects a delete dry run marks ("Object marked for deletion: ..." in WAL-G's words), sorted. */
function marked(stderr: string): string[] {
  return [...stderr.matchAll(/marked for deletion:?\s+(\S+)/gi)].map((m) => m[1]!.replace(/^\/+/, '')).sort();
}

async function setup(writer: Tool): Promise<Setup> {
  const work = userTempDir('walg-interop-cat-');
  const id = pgIdentity();
  for (const d of ['store', 'ts']) { mkdirSync(join(work, d)); chownSync(join(work, d), id.uid, id.gid); }
  const cfg = writeConfig(work, { WALG_FILE_PREFIX: join(work, 'store'), WALG_COMPRESSION_METHOD: 'zstd', WALG_DELTA_MAX_STEPS: '1' });
  const c = await initCluster({ archive_mode: 'on', archive_command: `${writer.bin} wal-push %p --config ${cfg}`, autovacuum: 'off' });
  await c.start();
  const tablespace = join(work, 'ts');
  await c.psql(`create tablespace interop_ts location '${tablespace}'`);
  await c.psql("create table in_ts (id int primary key, v text) tablespace interop_ts; insert into in_ts select g, md5(g::text) from generate_series(1, 5000) g");
  const tsOid = await c.psql("select oid from pg_tablespace where spcname = 'interop_ts'");
  await c.pgbench(['-i', '-s', '2', '-q']);
  await switchAndArchive(c);
  const names: string[] = [];
  const dumps: string[] = [];
  // full (permanent, user data), delta, full, delta: two chains for the delete modes.
  const pushes: string[][] = [['--permanent', '--add-user-data', '{"x":1}'], [], ['--full', '--add-user-data', '{"x":2}'], []];
  for (const [i, extra] of pushes.entries()) {
    if (i > 0) await c.pgbench(['-t', '200', '-c', '2', '-n']);
    const r = await ok(writer, cfg, ['backup-push', c.dataDir, ...extra], c.env);
    names.push(pushedName(r.stderr));
    dumps.push(await c.dumpAll());
  }
  await c.psql("select pg_create_restore_point('interop_rp')");
  const rpDump = await c.dumpAll();
  await switchAndArchive(c);
  return { work, cfg, c, tablespace, tsOid, names, dumps, rpDump };
}

/** --restore-spec arguments that move the tablespace to a fresh directory (the original is still in use). */
function relocation(s: Setup, tag: string): { moved: string; args: (data: string) => string[]; prepare: () => void } {
  const moved = join(s.work, `ts-${tag}`);
  const spec = join(s.work, `${tag}.json`);
  const id = pgIdentity();
  return {
    moved,
    args: (data) => {
      writeFileSync(spec, JSON.stringify({ base_prefix: data, tablespaces: [s.tsOid], [s.tsOid]: { loc: `${moved}/`, link: `pg_tblspc/${s.tsOid}` } }));
      return ['--restore-spec', spec];
    },
    prepare: () => { execFileSync('chown', ['-R', `${id.uid}:${id.gid}`, moved]); },
  };
}

for (const [writer, reader] of DIRECTIONS) {
  describe(`${writer.name} writes, ${reader.name} reads: tablespaces, marks, user data, wal-show/verify, delete`, { skip, timeout: 900_000 }, () => {
    let s: Setup;
    before(async () => { s = await setup(writer); });
    after(async () => { await s?.c.stop('immediate'); if (s) rmSync(s.work, { recursive: true, force: true }); });

    test('the sentinel Spec of the tablespace is read: relocated with --restore-spec to the restore point', async () => {
      const r = relocation(s, `spec-${reader.name}`);
      // compat: the tablespace link points at the spec's loc as written, trailing slash included (as WAL-G does).
      await restoreWith(reader, s.cfg, 'LATEST', s.rpDump.replaceAll(s.tablespace, `${r.moved}/`), 'interop_rp', r.args, r.prepare);
    });

    test('permanent flag and backup-mark are seen by the other tool', async () => {
      const list = async (tool: Tool) => JSON.parse((await ok(tool, s.cfg, ['backup-list', '--json', '--detail'])).out) as Array<{ backup_name: string; is_permanent: boolean }>;
      const both = async () => {
        const [a, b] = [await list(reader), await list(writer)];
        assert.deepEqual(a, b, 'both tools list the same permanence');
        return a.map((x) => x.is_permanent);
      };
      assert.deepEqual(await both(), [true, false, false, false]);
      // Marking a delta permanent marks its base too; unmarking the base then refuses or unmarks as WAL-G does.
      await ok(reader, s.cfg, ['backup-mark', s.names[3]!]);
      assert.deepEqual(await both(), [true, false, true, true]);
      await ok(writer, s.cfg, ['backup-mark', '-i', s.names[3]!]);
      await ok(reader, s.cfg, ['backup-mark', '-i', s.names[2]!]);
      assert.deepEqual(await both(), [true, false, false, false]);
    });

    test('--target-user-data picks the backup the writer tagged', async () => {
      const data = join(s.work, `ud-${reader.name}`);
      const spec = join(s.work, `ud-spec-${reader.name}.json`);
      writeFileSync(spec, JSON.stringify({ base_prefix: data, tablespaces: [s.tsOid], [s.tsOid]: { loc: `${data}-ts/`, link: `pg_tblspc/${s.tsOid}` } }));
      await ok(reader, s.cfg, ['backup-fetch', data, '--target-user-data', '{"x":2}', '--restore-spec', spec]);
      // backup_label names the start segment, which is the backup's name.
      assert.match(readFileSync(join(data, 'backup_label'), 'utf8'), new RegExp(`\\(file ${s.names[2]!.slice(5, 29)}\\)`));
    });

    test('wal-show --detailed-json and wal-verify integrity timeline --json agree', async () => {
      const show = async (tool: Tool) => JSON.parse((await ok(tool, s.cfg, ['wal-show', '--detailed-json'])).out) as unknown;
      assert.deepEqual(await show(reader), await show(writer));
      const verify = async (tool: Tool) => JSON.parse((await ok(tool, s.cfg, ['wal-verify', 'integrity', 'timeline', '--json'], s.c.env)).out) as unknown;
      assert.deepEqual(await verify(reader), await verify(writer));
    });

    test('delete dry runs name the same objects; --confirm by the reader leaves what the writer restores', async () => {
      const counts: number[] = [];
      const modes = [['retain', 'FULL', '1'], ['retain', '1'], ['before', 'FIND_FULL', s.names[3]!], ['before', s.names[2]!], ['target', s.names[2]!], ['garbage']];
      for (const args of modes) {
        const a = await run(reader, s.cfg, ['delete', ...args]);
        const b = await run(writer, s.cfg, ['delete', ...args]);
        assert.equal(a.code, b.code, `delete ${args.join(' ')}: exit codes ${a.code} vs ${b.code}\n${a.stderr}\n${b.stderr}`);
        assert.deepEqual(marked(a.stderr), marked(b.stderr), `delete ${args.join(' ')} dry run`);
        counts.push(marked(b.stderr).length);
      }
      assert.ok(counts.some((n) => n > 0), `the dry runs marked objects: ${counts.join(', ')}`);
      await ok(reader, s.cfg, ['delete', 'retain', 'FULL', '1', '--confirm']);
      const left = (JSON.parse((await ok(writer, s.cfg, ['backup-list', '--json'])).out) as Array<{ backup_name: string }>).map((b) => b.backup_name);
      // The permanent full stays; its (not permanent) delta goes with the older chain, as in WAL-G.
      assert.deepEqual(left, [s.names[0], s.names[2], s.names[3]]);
      const r = relocation(s, `after-delete-${writer.name}`);
      await restoreWith(writer, s.cfg, s.names[3]!, s.dumps[3]!.replaceAll(s.tablespace, `${r.moved}/`), undefined, r.args, r.prepare);
    });
  });
}
