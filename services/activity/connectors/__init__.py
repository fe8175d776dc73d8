"""CRM connectors: webhook deliveries verified, translated into our events and appended.

One module per provider (`hubspot.py`, `generic.py`, `pipedrive.py`, `salesforce.py`) holds its
check of who sent a delivery and its pure translation; `domain.py` what they share; `service.py` the use cases; `router.py` the routes.
"""
