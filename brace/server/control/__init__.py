"""The control loop and its decisions: replicas that match the store.

The controller reads the desired state, observes its replicas, asks pure functions
what to do, does it, writes what it saw and hands the gateway a routing table. In the
order of a tick:

  controller  the loop: read, observe, decide, act, write, publish
  targets     how many replicas of which revision each deployment wants (pure)
  rolling     the rollout driver's view of a tick, and its decisions (brace.rollout)
  autoscaler  samples the gateway's demand; sizing turns it into a replica count (pure)
  replicas    the replica life cycle: spawn (through backends), probe, drain, stop, reap;
              liveness says when a ready replica stopped answering (pure)
  restarts    restart a replica that ended unasked, or give up (pure)
  runs        what the loop remembers about a deployment between ticks
  observed    the status a deployment reports from its replicas' states (pure)
  table       the routing table the gateway reads (pure)
"""
