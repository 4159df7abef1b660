// The MySQL settings the command handlers pass down as option objects: src/mysql/ never reads Config, so this
// file and the handlers beside it are the only places that read settings for MySQL.

import type { Config } from '../../config/load.ts';
import type { MysqlConnectionSettings } from '../../mysql/connection.ts';
import type { BinlogPushOptions } from '../../mysql/binlog-push.ts';
import { splitOptions } from '../../backup/stream.ts';
import type { SplitOptions } from '../../backup/stream.ts';

/** WALG_MYSQL_DATASOURCE_NAME and WALG_MYSQL_SSL_CA. */
export function mysqlConnection(config: Config): MysqlConnectionSettings {
  return { datasourceName: config.get('WALG_MYSQL_DATASOURCE_NAME'), sslCaFile: config.get('WALG_MYSQL_SSL_CA') };
}

/** WALG_STREAM_SPLITTER_*, validated (ConfigError for negative or zero sizes). */
export function streamSplit(config: Config): SplitOptions {
  return splitOptions({
    partitions: config.getInt('WALG_STREAM_SPLITTER_PARTITIONS'),
    blockSize: config.getSize('WALG_STREAM_SPLITTER_BLOCK_SIZE'),
    maxFileSize: config.getInt('WALG_STREAM_SPLITTER_MAX_FILE_SIZE'),
  });
}

/** What binlog-push needs from the settings: the server, WALG_MYSQL_CHECK_GTIDS and WALG_MYSQL_BINLOG_SRC. */
export function binlogPushSettings(config: Config): Omit<BinlogPushOptions, 'until'> {
  return { connection: mysqlConnection(config), checkGtids: config.getBool('WALG_MYSQL_CHECK_GTIDS'), binlogSrc: config.get('WALG_MYSQL_BINLOG_SRC') };
}

/** What a stream push needs from the settings: the server and the splitter. */
export function streamPushSettings(config: Config): { connection: MysqlConnectionSettings; split: SplitOptions } {
  return { connection: mysqlConnection(config), split: streamSplit(config) };
}
