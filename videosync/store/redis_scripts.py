"""The Lua scripts of the Redis store: each a compare-and-act that must be one atomic step."""

# Compare-and-act scripts: the lease holder alone may renew or release it.
RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# Writes that must never resurrect a deleted or expired session (Go-A did, docs/go-protocol.md §2.7.8).
TOUCH = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
for i = 1, #KEYS do redis.call('expire', KEYS[i], ARGV[1]) end
return 1
"""
# One round trip, all or nothing: a write refused for memory (OOM) fails the first SET, before any key.
CREATE = """
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[4])
redis.call('set', KEYS[3], ARGV[3], 'EX', ARGV[4])
return 1
"""
# Writes KEYS[2] of a live session (KEYS[1] its marker) and refreshes every key's TTL; 0 if gone.
# ARGV[3] == '1' makes it conditional on the stored text being ARGV[4] (-1 if not); ARGV[5],
# ARGV[6]: an optional channel and message, published with the write (one round trip).
SET_IF_LIVE = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' and (redis.call('get', KEYS[2]) or '') ~= ARGV[4] then return -1 end
redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[1])
for i = 3, #KEYS do redis.call('expire', KEYS[i], ARGV[1]) end
redis.call('expire', KEYS[1], ARGV[1])
if ARGV[5] then redis.call('publish', ARGV[5], ARGV[6]) end
return 1
"""

# Chat history and moderation records of a live session only (KEYS[1] its marker), TTL refreshed.
APPEND_CHAT = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('rpush', KEYS[2], ARGV[1])
redis.call('ltrim', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('expire', KEYS[2], ARGV[3])
return 1
"""
SET_MODERATION = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
else redis.call('hdel', KEYS[2], ARGV[1]) end
redis.call('expire', KEYS[2], ARGV[4])
return 1
"""

# `_SET_IF_LIVE` for a chain of states, each announced in turn (ARGV[3], [4], [5]: state, channel,
# message, then the next three...), conditional on the stored text being ARGV[2]: a host's queued
# updates in one round trip, each with its own version and message, in order. 0 if gone, -1 if the
# stored state is not ARGV[2], else 1.
SET_CHAIN = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if (redis.call('get', KEYS[2]) or '') ~= ARGV[2] then return -1 end
for i = 3, #ARGV, 3 do
  redis.call('set', KEYS[2], ARGV[i], 'EX', ARGV[1])
  redis.call('publish', ARGV[i + 1], ARGV[i + 2])
end
for i = 3, #KEYS do redis.call('expire', KEYS[i], ARGV[1]) end
redis.call('expire', KEYS[1], ARGV[1])
return 1
"""
