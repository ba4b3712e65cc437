-- wrk script: POST /v1/audit-events with a new requestId each time, as each audited action
-- is; the credential and occurredAt come from the environment (see bench/load.sh).
local secret = os.getenv("AGENTID_LOAD_SECRET")
local occurred_at = os.getenv("AGENTID_LOAD_OCCURRED_AT")
local counter = 0

function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"action":"deploy.step","resource":"repo:acme/api","outcome":"success","requestId":"load-%s-%d","occurredAt":"%s"}',
    prefix, counter, occurred_at)
  return wrk.format("POST", "/v1/audit-events",
    { ["content-type"] = "application/json", ["authorization"] = "Bearer " .. secret }, body)
end
