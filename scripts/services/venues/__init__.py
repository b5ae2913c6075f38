"""Local trading venue simulators: a seeded matching engine (:mod:`.engine`) with synthetic market
makers quoting around a shared reference price (:mod:`.prices`), per-venue profiles (:mod:`.profile`),
their faults (:mod:`.faults`), and an HTTP service modelled on an exchange REST API
(``python -m scripts.services.venues``)."""
