"""The control loop and its decisions: replicas that match the store.

The controller reads what changed in the store, observes its replicas, asks pure
functions what to do for the deployments that need it, does it, writes what it saw
and hands the gateway a routing table. In the order of a tick:

  controller         the loop: read, observe, decide, act, write, publish
  settings           the controller's settings in one record
  wakeup             what the gateway, the replicas and the fork servers call to have a
                     tick now
  reading            what a tick reads: the store's changes, or everything at a full
                     read (the safety net)
  mirror             the desired state kept between ticks, and the changes read into it
  desired            the store's desired state as a full read reads it (pure)
  attention          which deployments a tick decides for, and in which order their
                     replicas start (pure)
  fleet              the loop's hands: runs and replicas, carrying out the decisions
  runs               what the loop remembers about a deployment between ticks
  replicas           the replica life cycle: spawn (through backends), probe, drain,
                     stop, reap; liveness says when a ready replica stopped answering
                     (pure)
  restarts           restart a replica that ended unasked, or give up (pure)
  rolling_promotions the rollout driver's view of a tick, and its decisions written
                     back (brace.rollout)
  autoscaler         samples the gateway's demand; sizing turns it into a replica
                     count (pure)
  targets            how many replicas of which revision each deployment wants (pure)
  changes            which replicas to start and which to drain to meet a target (pure)
  preparation        read a revision's model directory, build its environment
  launch             what the backend starts for one replica, and its store row (pure)
  report             each deployment's status and counts, written to the store (pure);
                     observed gives the status from its replicas' states (pure)
  problems           a state or a log that cannot be written (a full disk)
  table              the routing table the gateway reads (pure)
  publisher          hands the gateway a new table when what it routes on changed
  writes             the tick's transaction and the stopping server's
"""
