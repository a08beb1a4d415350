"""Who may do what, where: people's roles in workspaces, access tokens, and the one access check.

A domain app beneath every interface: the MLflow API (`tracking.api.router`), the studio's JSON
API and its pages (`studio/`) all ask `gate.authenticate` who is calling and `gate.authorize`
what they may do; this package imports none of them.

- `models`: memberships with a role (Owner, Contributor, Reader) and access tokens (hashed).
- `permissions`: the permission every MLflow RPC needs, and which roles hold it.
- `gate`: authentication (tokens, passwords, sessions, local mode) and the authorization check.
- `tokens`: issuing, looking up, refreshing and revoking tokens.
- `services`: memberships, and workspaces created with their first Owner.
- `throttle`: log-in throttling per user name and address.
"""
