// Unit tests: which command tree runs — `wal-g mysql ...` or a binary named wal-g-mysql selects MySQL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mysqlFlavorArgs } from '../../src/cli/flavor-argv.ts';

describe('flavour dispatch', () => {
  it('first argument mysql', () => {
    assert.deepEqual(mysqlFlavorArgs(['mysql', 'backup-push', '-p'], 'wal-g', '/usr/bin/node'), ['backup-push', '-p']);
    assert.equal(mysqlFlavorArgs(['backup-push'], 'wal-g', '/usr/bin/node'), undefined, 'PostgreSQL stays the default');
    assert.equal(mysqlFlavorArgs(['st', 'ls', 'mysql'], 'wal-g', '/usr/bin/node'), undefined);
  });
  it('started as wal-g-mysql (symlink: argv0; renamed copy: execPath)', () => {
    assert.deepEqual(mysqlFlavorArgs(['backup-list'], '/usr/local/bin/wal-g-mysql', '/opt/wal-g'), ['backup-list']);
    assert.deepEqual(mysqlFlavorArgs(['backup-list'], 'wal-g', '/opt/bin/wal-g-mysql'), ['backup-list']);
    assert.deepEqual(mysqlFlavorArgs(['binlog-push'], 'wal-g-mysql.exe', 'x'), ['binlog-push']);
    assert.equal(mysqlFlavorArgs(['backup-list'], 'wal-g-mysqlx', '/opt/wal-g'), undefined);
  });
});
