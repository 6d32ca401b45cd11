"""The vendor's ETNA Python sample ("Two-Factor Authentication code sample", the `EtnaAPIRequest`
class) through `twofa proxy`, with only its base URL changed.

The sample's own fields stay its placeholders ("Et App Key from the BO Companies widget", token
'uninitialized'): the proxy drops the credentials a client sends and adds the session's, so the
protected call the sample goes on to make succeeds without the sample logging in.

Usage: python3 etna_vendor_sample_via_proxy.py PROXY_BASE_URL EXPECTED_USERNAME
"""

import sys

import requests


class EtnaAPIRequest:

    baseURL = "https://pub-api-et-demo-prod.etnasoft.us/api/"
    EtAppKey = "Et App Key from the BO Companies widget"

    token = 'uninitialized'

    username = "your username"
    password = "your password"

    # The protected call the vendor's samples make after the login, as they make it.
    def me(self):
        response = requests.get(self.baseURL + 'v1.0/users/me',
                                headers={"Accept": "application/json", "Et-App-Key": self.EtAppKey,
                                         "Authorization": self.token})
        print('Status code: ' + str(response.status_code))
        return response


sampleRequest = EtnaAPIRequest()
sampleRequest.baseURL = sys.argv[1]          # the one change: the proxy's base URL
answer = sampleRequest.me()
assert answer.status_code == 200, answer.text
assert answer.json()["Username"] == sys.argv[2], answer.text
print("the vendor sample reached the API through twofa proxy with no credential of its own")
