-- wrk script: the client_credentials grant with client_secret_basic.
-- AUTH (base64 of client_id:client_secret) comes from the environment.
--
-- No `response` callback: with one, wrk parses every response into Lua,
-- which costs it about a quarter more CPU per request on the two cores the
-- server under test shares with it. wrk counts non-2xx answers by itself
-- ("Non-2xx or 3xx responses"), and bench/oidc.sh fails on any.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")
