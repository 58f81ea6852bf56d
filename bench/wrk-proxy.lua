-- wrk script: send every request as an HTTP proxy client would, in absolute form
-- (GET http://bench-app:8080/1k HTTP/1.1, Host: bench-app:8080), when WRK_ABSOLUTE
-- is set; otherwise origin form with WRK_PATH. Set in the environment by bench/run.js.
local absolute = os.getenv("WRK_ABSOLUTE")
local p = os.getenv("WRK_PATH") or "/"
if absolute and absolute ~= "" then
  wrk.path = absolute .. p
  wrk.headers["Host"] = string.gsub(absolute, "^https?://", "")
else
  wrk.path = p
end
