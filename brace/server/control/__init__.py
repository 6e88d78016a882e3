"""The control loop and its decisions: replicas that match the store.

The controller reads the desired state, observes its replicas, asks pure functions
what to do, does it, writes what it saw and hands the gateway a routing table. In the
order of a tick:

  controller         the loop: read, observe, decide, act, write, publish
  settings           the controller's settings in one record
  wakeup             what the gateway, the replicas and the fork servers call to have a
                     tick now
  desired            the store's desired state as a tick reads it (pure)
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
"""
