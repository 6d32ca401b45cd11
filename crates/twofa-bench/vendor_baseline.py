"""The vendor's published approach (shared/seeds/etna-two-factor-code-sample.md): requests.post per
call, a new connection each time. Reads the code from the sandbox outbox over HTTP. Prints one JSON
list of per-login times in seconds."""
import json, sys, time
import requests

base, outbox, app_key, user, password, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
times = []
for _ in range(n):
    start = time.perf_counter()
    headers = {"Accept": "application/json", "Et-App-Key": app_key, "Username": user, "Password": password}
    first = requests.post(base + "token", headers=headers).json()
    code = requests.get(outbox, params={"recipient": user}).text
    second = requests.post(base + "token", headers=dict(headers, VerificationCode=code, Authorization="Bearer " + first["Token"])).json()
    assert second["State"] == "Succeeded", second
    times.append(time.perf_counter() - start)
print(json.dumps(times))
