"""The workshop: benchmarks, the fault run, the simulator command and the demo's seeding.

Not the product: no module of billing, partner_portal, partner_api or ops imports it, and it is in
INSTALLED_APPS only while the DEVTOOLS setting is on (the deployment files set DEVTOOLS=0).
"""
