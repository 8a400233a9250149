-- wrk script: a plain GET (the HTTP floor in bench/oidc.sh); AUTH unused.
wrk.method = "GET"
