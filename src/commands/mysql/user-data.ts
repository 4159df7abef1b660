// --add-user-data / WALG_SENTINEL_USER_DATA for MySQL pushes: shared with Redis, in src/commands/common/user-data.ts.

export { sentinelUserData } from '../common/user-data.ts';
