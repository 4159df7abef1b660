// Unit tests: go-sql-driver DSN parsing and the mysql2 options made from it (WALG_MYSQL_DATASOURCE_NAME, _SSL_CA).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectOptions, parseDatasource, withHost } from '../../src/mysql/dsn.ts';
import { ConfigError } from '../../src/core/errors.ts';

describe('mysql DSN', () => {
  it('parses user:password@tcp(host:port)/db?params', () => {
    const d = parseDatasource('walg:p@ss:w/rd@tcp(db.example:3307)/mysql?tls=skip-verify&timeout=5s');
    assert.equal(d.user, 'walg');
    assert.equal(d.password, 'p@ss:w/rd', "the last '/' ends the address, the last '@' the credentials")
    assert.equal(d.network, 'tcp');
    assert.equal(d.addr, 'db.example:3307');
    assert.equal(d.dbName, 'mysql');
    assert.equal(d.params.get('tls'), 'skip-verify');
    const o = connectOptions(d);
    assert.equal(o.host, 'db.example');
    assert.equal(o.port, 3307);
    assert.equal(o.connectTimeout, 5000);
    assert.deepEqual(o.ssl, { rejectUnauthorized: false });
  });

  it('splits credentials at the last @ and the first :, the database at the last /', () => {
    const d = parseDatasource('u:a:b@c@tcp(h)/db');
    assert.equal(d.user, 'u');
    assert.equal(d.password, 'a:b@c');
    assert.equal(d.addr, 'h:3306', 'a tcp address without port gets :3306');
  });

  it('applies go-sql-driver defaults', () => {
    assert.equal(parseDatasource('u@/db').addr, '127.0.0.1:3306');
    assert.equal(parseDatasource('/').user, '');
    const unix = parseDatasource('root@unix(/run/mysqld/mysqld.sock)/');
    assert.equal(unix.network, 'unix');
    assert.equal(connectOptions(unix).socketPath, '/run/mysqld/mysqld.sock');
    assert.equal(parseDatasource('u@unix()/db').addr, '/tmp/mysql.sock');
    assert.equal(parseDatasource('u@tcp([::1])/db').addr, '[::1]:3306');
    assert.equal(parseDatasource('u@tcp(host)/my%2Fdb').dbName, 'my/db');
  });

  it('rejects malformed DSNs without echoing them', () => {
    for (const bad of ['user:secret@tcp(host:1)', 'user:secret@tcp(host/db', 'user:secret@udp(h)/db']) {
      assert.throws(() => parseDatasource(bad), (e: unknown) => e instanceof ConfigError && !(e as Error).message.includes('secret'));
    }
    assert.throws(() => connectOptions(parseDatasource('u@tcp(h)/d?tls=bogus')), ConfigError);
  });

  it('WALG_MYSQL_SSL_CA sets a verified CA and conflicts with tls=', () => {
    const o = connectOptions(parseDatasource('u:p@tcp(db:3306)/'), 'PEM');
    assert.deepEqual(o.ssl, { ca: 'PEM', rejectUnauthorized: true, servername: 'db' });
    assert.throws(() => connectOptions(parseDatasource('u:p@tcp(db)/?tls=true'), 'PEM'), /can't be used with WALG_MYSQL_SSL_CA/);
    assert.equal(connectOptions(parseDatasource('u:p@tcp(db)/?tls=1')).ssl?.rejectUnauthorized, true);
    assert.equal(connectOptions(parseDatasource('u:p@tcp(db)/?tls=preferred')).tlsFallback, true);
    assert.equal(connectOptions(parseDatasource('u:p@tcp(db)/?tls=false')).ssl, undefined);
  });

  it('the localhost fallback keeps the port and only applies to tcp', () => {
    assert.equal(withHost(parseDatasource('u@tcp(10.0.0.1:3310)/'), 'localhost')?.addr, 'localhost:3310');
    assert.equal(withHost(parseDatasource('u@unix(/s)/'), 'localhost'), undefined);
    assert.equal(withHost(parseDatasource('u@tcp(localhost:1)/'), 'localhost'), undefined);
  });
});
