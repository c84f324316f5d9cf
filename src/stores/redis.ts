/**
 * The `redis` backend (the official `redis` client). Each record is one key under
 * `redis_prefix`, holding its version and value; compare-and-set and expiry happen in one Lua
 * script, so two replicas never overwrite each other's newer token.
 *
 * The client package is imported on the first command, not with this module: a program that
 * never uses a Redis store does not load it.
 *
 * @module
 */
import type { createClient } from 'redis';
import { McpAgentError } from '../errors.js';
import {
  type AppendLog,
  type AppendOptions,
  type AppendOutcome,
  checkAppendOptions,
  checkMemberOptions,
  entryBytes,
  type MemberAppendOptions,
  type MemberAppendOutcome,
  memberLogKey,
} from './append-log.js';
import type { DeleteOptions, KeyValueStore, SetOptions, VersionedValue } from './kv.js';

type RedisClient = ReturnType<typeof createClient>;
type RedisModule = typeof import('redis');

/** The `redis` package, once a store has needed it. */
let loaded: Promise<RedisModule> | undefined;
let redisModule: RedisModule | undefined;

function loadRedis(): Promise<RedisModule> {
  loaded ??= import('redis').then((module) => {
    redisModule = module;
    return module;
  });
  return loaded;
}

// KEYS[1] key; ARGV: value, expected version ('' = any, 'none' = must not exist), ttl ms ('' = none)
const SET_SCRIPT = `
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(cjson.decode(current)['v']) end
if ARGV[2] == 'none' then
  if current then return -1 end
elseif ARGV[2] ~= '' and (not current or tonumber(ARGV[2]) ~= version) then
  return -1
end
local next = version + 1
local payload = cjson.encode({v = next, d = ARGV[1]})
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], payload, 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], payload)
end
return next
`;

// KEYS[1] key; ARGV[1] expected version ('' = any); ARGV[2] '1' to compare the value with ARGV[3]
const DELETE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local stored = cjson.decode(current)
if ARGV[1] ~= '' and tonumber(stored['v']) ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '1' and stored['d'] ~= ARGV[3] then return 0 end
return redis.call('DEL', KEYS[1])
`;

// KEYS[1] the log (a list of '<bytes> <entry>'), KEYS[2] its byte count. ARGV: the stored entry,
// its bytes, max entries, max bytes ('' = none), ttl ms, '1' = distinct, '1' = return dropped.
const APPEND_SCRIPT = `
local bytes = tonumber(ARGV[2])
if ARGV[6] == '1' then
  local removed = redis.call('LREM', KEYS[1], 0, ARGV[1])
  if removed > 0 then redis.call('DECRBY', KEYS[2], removed * bytes) end
end
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
local total = redis.call('INCRBY', KEYS[2], bytes)
local maxEntries = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local dropped = {}
while length > 1 and (length > maxEntries or (maxBytes and total > maxBytes)) do
  local oldest = redis.call('LPOP', KEYS[1])
  local space = string.find(oldest, ' ', 1, true) or 1
  total = redis.call('DECRBY', KEYS[2], tonumber(string.sub(oldest, 1, space - 1)) or 0)
  length = length - 1
  if ARGV[7] == '1' then dropped[#dropped + 1] = string.sub(oldest, space + 1) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {length, dropped}
`;

/**
 * {@link AppendLog.appendToMember}: the member's log as APPEND_SCRIPT appends (its byte bound the
 * group's), the member moved to the end of the group's index (its entry stored as appendToLog
 * stores one, so that either finds the other's), and the group's byte counter kept in step.
 * Beyond `maxMembers`, the oldest members leave (their logs deleted, their bytes taken off the
 * counter). Beyond `maxGroupBytes`, or when the counter was missing, the members' own counters
 * are summed first (one that expired counts nothing, so the counter may be high, never low),
 * then the other members, oldest first, leave while the sum is too high (one that expired in any
 * case), and the counter is set to the sum. The member appended to never leaves. KEYS: the
 * member's log and byte counter, the index and the group's counter. ARGV: the stored entry, its
 * bytes, maxEntries, maxGroupBytes, ttl, the stored index entry, maxMembers, the key prefixes of
 * the members' logs and byte counters, the member.
 */
const MEMBER_APPEND_SCRIPT = `
local bytes = tonumber(ARGV[2])
local maxEntries = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local member = ARGV[10]
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
local own = redis.call('INCRBY', KEYS[2], bytes)
local total = redis.call('INCRBY', KEYS[4], bytes)
local fresh = total == bytes
while length > 1 and (length > maxEntries or own > maxBytes) do
  local oldest = redis.call('LPOP', KEYS[1])
  local space = string.find(oldest, ' ', 1, true) or 1
  local size = tonumber(string.sub(oldest, 1, space - 1)) or 0
  own = redis.call('DECRBY', KEYS[2], size)
  total = redis.call('DECRBY', KEYS[4], size)
  length = length - 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('LREM', KEYS[3], 0, ARGV[6])
local count = redis.call('RPUSH', KEYS[3], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('PEXPIRE', KEYS[4], ARGV[5])
local maxMembers = tonumber(ARGV[7])
local dropped = {}
while count > maxMembers do
  local entry = redis.call('LPOP', KEYS[3])
  local name = string.sub(entry, (string.find(entry, ' ', 1, true) or 0) + 1)
  if name ~= member then
    local size = redis.call('GET', ARGV[9] .. name)
    redis.call('DEL', ARGV[8] .. name, ARGV[9] .. name)
    if size then total = redis.call('DECRBY', KEYS[4], tonumber(size)) end
    dropped[#dropped + 1] = name
  end
  count = count - 1
end
if total > maxBytes or (fresh and count > 1) then
  local stored = redis.call('LRANGE', KEYS[3], 0, -2)
  local others = {}
  total = own
  for i, entry in ipairs(stored) do
    local name = string.sub(entry, (string.find(entry, ' ', 1, true) or 0) + 1)
    local size = redis.call('GET', ARGV[9] .. name)
    others[i] = { entry, name, size and tonumber(size) or false }
    if size and name ~= member then total = total + tonumber(size) end
  end
  for _, other in ipairs(others) do
    if other[2] == member then
      redis.call('LREM', KEYS[3], 0, other[1])
    elseif other[3] == false or total > maxBytes then
      redis.call('LREM', KEYS[3], 0, other[1])
      redis.call('DEL', ARGV[8] .. other[2], ARGV[9] .. other[2])
      total = total - (other[3] or 0)
      dropped[#dropped + 1] = other[2]
    end
  end
  redis.call('SET', KEYS[4], total, 'PX', ARGV[5])
end
return {length, dropped}
`;

/** Logs ({@link AppendLog}) are kept under these names, apart from the records (`keys()` skips them). */
const LOG_PREFIX = '#log:';
const LOG_BYTES_PREFIX = '#log-bytes:';
/** The byte count of a group of logs ({@link AppendLog.appendToMember}), by its index's name. */
const GROUP_BYTES_PREFIX = '#group-bytes:';

/** Options of {@link RedisKeyValueStore}. */
export interface RedisStoreOptions {
  /** `redis://…` or `rediss://…`. */
  readonly url: string;
  /** Key prefix; `:` is added. */
  readonly prefix: string;
  /** Give up connecting, and each command, after this many milliseconds. Default 5000. */
  readonly commandTimeoutMs?: number;
}

/**
 * A {@link KeyValueStore} in Redis, which also offers {@link AppendLog}: each log is a list under
 * `<prefix>:#log:<key>` with its byte count beside it, and an append is one Lua script (push,
 * trim, expire). Call `close()` to end the connection.
 */
export class RedisKeyValueStore implements KeyValueStore, AppendLog {
  readonly #url: string;
  readonly #prefix: string;
  readonly #origin: string;
  readonly #timeoutMs: number;
  #client: RedisClient | undefined;
  #creating: Promise<RedisClient> | undefined;
  #connecting: Promise<unknown> | undefined;
  #connected = false;

  constructor(options: RedisStoreOptions) {
    if (!URL.canParse(options.url)) {
      // No cause: the parser's error holds the URL, password included.
      throw new McpAgentError(
        'CONFIG_INVALID',
        'oauth.token_store.redis_url is not a URL; write it as redis://[:password@]host:port[/db].',
      );
    }
    if (!['redis:', 'rediss:'].includes(new URL(options.url).protocol)) {
      throw new McpAgentError(
        'CONFIG_INVALID',
        'oauth.token_store.redis_url must start with redis:// or rediss://.',
      );
    }
    this.#url = options.url;
    this.#prefix = `${options.prefix}:`;
    this.#timeoutMs = options.commandTimeoutMs ?? 5_000;
    this.#origin = describeRedis(options.url);
  }

  /** The client, made on first use (which loads the `redis` package). */
  #create(): Promise<RedisClient> {
    this.#creating ??= loadRedis().then(({ createClient }) => {
      const client = createClient({
        url: this.#url,
        socket: {
          connectTimeout: this.#timeoutMs,
          // The first connection fails at once (the caller gets an error, and the next call tries
          // again); a lost connection is retried in the background while commands fail at once.
          reconnectStrategy: (retries, cause) =>
            this.#connected
              ? Math.min(50 * 2 ** retries, 2_000)
              : (cause ?? new Error('unreachable')),
        },
        disableOfflineQueue: true,
      });
      // Errors surface on the commands; without a listener the client would throw them globally.
      client.on('error', () => {});
      this.#client = client;
      return client;
    });
    return this.#creating;
  }

  async #ready(): Promise<RedisClient> {
    try {
      const client = this.#client ?? (await this.#create());
      if (!client.isOpen) this.#connecting ??= client.connect();
      await this.#connecting;
      this.#connected = true;
      return client;
    } catch (error) {
      this.#connecting = undefined;
      throw this.#unavailable(error);
    }
  }

  #unavailable(error: unknown): McpAgentError {
    if (redisModule && error instanceof redisModule.ErrorReply) {
      // Redis is up but refused the command (a foreign value under the prefix, say); its reply
      // may quote data, so it is not repeated.
      return new McpAgentError(
        'STORE_UNAVAILABLE',
        `The Redis token store at ${this.#origin} refused a command; is oauth.token_store.redis_prefix shared with other data?`,
      );
    }
    return new McpAgentError(
      'STORE_UNAVAILABLE',
      `The Redis token store at ${this.#origin} is not reachable; check oauth.token_store.redis_url and that Redis is running.`,
      { cause: error },
    );
  }

  /**
   * Run one command, bounded by `commandTimeoutMs`: a Redis that accepts the connection but stops
   * answering (paused, partitioned) fails the call instead of holding it for ever.
   */
  async #run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = await this.#ready();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new McpAgentError(
              'STORE_UNAVAILABLE',
              `The Redis token store at ${this.#origin} did not answer within ${this.#timeoutMs / 1000} s; check that Redis is running and reachable.`,
            ),
          ),
        this.#timeoutMs,
      );
      timer.unref();
    });
    try {
      return await Promise.race([command(client), timeout]);
    } catch (error) {
      if (error instanceof McpAgentError) throw error;
      throw this.#unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  async get(key: string): Promise<VersionedValue | undefined> {
    const raw = await this.#run((client) => client.get(this.#prefix + key));
    if (raw === null || raw === undefined) return undefined;
    try {
      const { v, d } = JSON.parse(String(raw)) as { v: number; d: string };
      return { value: d, version: v };
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<number | undefined> {
    const expected =
      options.expectVersion === undefined
        ? ''
        : options.expectVersion === null
          ? 'none'
          : String(options.expectVersion);
    const ttl = options.ttlMs === undefined ? '' : String(Math.max(1, Math.ceil(options.ttlMs)));
    const result = await this.#run((client) =>
      client.eval(SET_SCRIPT, { keys: [this.#prefix + key], arguments: [value, expected, ttl] }),
    );
    const version = Number(result);
    return version > 0 ? version : undefined;
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    const expected = options.expectVersion === undefined ? '' : String(options.expectVersion);
    const value = options.expectValue;
    const result = await this.#run((client) =>
      client.eval(DELETE_SCRIPT, {
        keys: [this.#prefix + key],
        arguments: [expected, value === undefined ? '0' : '1', value ?? ''],
      }),
    );
    return Number(result) > 0;
  }

  async keys(): Promise<string[]> {
    return this.#run(async (client) => {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({
        MATCH: `${escapeGlob(this.#prefix)}*`,
        COUNT: 200,
      })) {
        for (const key of Array.isArray(batch) ? batch : [batch])
          keys.push(String(key).slice(this.#prefix.length));
      }
      return keys.filter(
        (key) => ![LOG_PREFIX, LOG_BYTES_PREFIX, GROUP_BYTES_PREFIX].some((p) => key.startsWith(p)),
      );
    });
  }

  async appendToLog(key: string, entry: string, options: AppendOptions): Promise<AppendOutcome> {
    checkAppendOptions(options);
    const bytes = entryBytes(entry, options);
    const result = await this.#run((client) =>
      client.eval(APPEND_SCRIPT, {
        keys: [this.#prefix + LOG_PREFIX + key, this.#prefix + LOG_BYTES_PREFIX + key],
        arguments: [
          `${bytes} ${entry}`,
          String(bytes),
          String(options.maxEntries),
          options.maxBytes === undefined ? '' : String(options.maxBytes),
          String(options.ttlMs),
          options.distinct ? '1' : '0',
          options.returnDropped ? '1' : '0',
        ],
      }),
    );
    const [length, dropped] = result as unknown as [number, unknown[]];
    return { length: Number(length), dropped: (dropped ?? []).map(String) };
  }

  async appendToMember(
    group: string,
    member: string,
    entry: string,
    options: MemberAppendOptions,
  ): Promise<MemberAppendOutcome> {
    checkMemberOptions(options);
    const bytes = entryBytes(entry, options);
    const logs = `${this.#prefix}${LOG_PREFIX}`;
    const counters = `${this.#prefix}${LOG_BYTES_PREFIX}`;
    const own = memberLogKey(group, member);
    const result = await this.#run((client) =>
      client.eval(MEMBER_APPEND_SCRIPT, {
        keys: [logs + own, counters + own, logs + group, this.#prefix + GROUP_BYTES_PREFIX + group],
        arguments: [
          `${bytes} ${entry}`,
          String(bytes),
          String(options.maxEntries),
          String(options.maxGroupBytes),
          String(options.ttlMs),
          // As appendToLog stores a name (its UTF-8 length first), so either finds the other's.
          `${Buffer.byteLength(member, 'utf8')} ${member}`,
          String(options.maxMembers),
          logs + memberLogKey(group, ''),
          counters + memberLogKey(group, ''),
          member,
        ],
      }),
    );
    const [length, dropped] = result as unknown as [number, unknown[]];
    return { length: Number(length), dropped: (dropped ?? []).map(String) };
  }

  async readLog(key: string): Promise<string[]> {
    const stored = await this.#run((client) =>
      client.lRange(this.#prefix + LOG_PREFIX + key, 0, -1),
    );
    return stored.map((item) => {
      const text = String(item);
      return text.slice(text.indexOf(' ') + 1);
    });
  }

  async deleteLog(key: string): Promise<boolean> {
    const deleted = await this.#run((client) =>
      client.del([
        this.#prefix + LOG_PREFIX + key,
        this.#prefix + LOG_BYTES_PREFIX + key,
        this.#prefix + GROUP_BYTES_PREFIX + key,
      ]),
    );
    return Number(deleted) > 0;
  }

  async close(): Promise<void> {
    // A client being made (the package still loading) is closed once it exists.
    const client = this.#client ?? (await this.#creating?.catch(() => undefined));
    if (!client?.isOpen) return;
    // QUIT waits for an answer; a Redis that went away (even if the client has not noticed yet)
    // never gives one, so the socket is dropped after a moment.
    if (client.isReady) {
      let timer: NodeJS.Timeout | undefined;
      let quit: Promise<boolean>;
      try {
        quit = client.quit().then(
          () => true,
          () => false,
        );
      } catch {
        quit = Promise.resolve(false); // The socket closed between the check and the call.
      }
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 1_000);
      });
      const quitted = await Promise.race([quit, late]);
      clearTimeout(timer);
      if (quitted) return;
    }
    try {
      if (client.isOpen) client.destroy();
    } catch {
      // Already closed while QUIT was pending.
    }
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/** `redis://host:port/db` without credentials, for messages. */
function describeRedis(url: string): string {
  if (!URL.canParse(url)) return 'the configured URL';
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}
