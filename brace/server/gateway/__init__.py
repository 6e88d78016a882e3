"""The gateway: the inference hot path, a small HTTP/1.1 reverse proxy on asyncio.

It answers Baseten's inference URLs on the server's port and sends each request to a
ready replica; everything else (the management API, /metrics, the console) goes to
the internal app. In the order a request meets them:

  downstream  one Protocol per client connection: reads requests, writes answers in
              order, keeps the connection alive or closes it
  request     the connection's reader: parses the head with httptools and checks its
              bounds (limits)
  exchange    one request and its response as they cross the gateway, and the small
              Protocols its neighbours know each other by (no module imports
              another in a circle: downstream and upstream call the gateway through
              the hooks they declare, `ClientHooks` and `UpstreamHooks`)
  proxy       `Gateway`: builds the parts below, passes each the others it calls,
              runs their timers
  router      where a request goes: its Host and Origin (hosts), the API key, the
              routing table (routing, split)
  demand      requests in flight and arrivals per deployment, counted when they end
              (counters)
  waiting     requests held while their deployment wakes or its replicas are busy
              (holding), and each new routing table taken in
  pool        which replica has a free slot, and an idle keep-alive connection to it
              (over a Unix socket or TCP: a replica's address, `backends.base`)
  upstream    one Protocol per connection to a replica: writes the request, relays
              the response
  failover    a replica that refused, closed or did not answer in time: another
              replica, or 502/504
  wire        the bytes the gateway writes itself (status lines, errors, chunks)

The gateway decides nothing about replicas: the controller hands it a routing table
(`control.table`) and it follows it.
"""
