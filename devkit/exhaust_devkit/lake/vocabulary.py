"""The event types and observation kinds the generated lake draws from (the generator and the answers scale)."""

EVENT_TYPES = ["START", "END", "IMPRESSION", "INTERACT"]
OBSERVATION_KINDS = [
    ("sensor", "temperature", "celsius", 18.0, 40.0),
    ("sensor", "humidity", "percent", 20.0, 95.0),
    ("survey", "attendance", "count", 0.0, 60.0),
    ("device", "session_length", "seconds", 30.0, 3600.0),
]
