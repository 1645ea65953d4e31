"""The example record every serving test sends: valid for the shipped model, every column present."""

EXAMPLE = {
    "temperature": 206.61,
    "pressure": 59.94,
    "speed": 97.5,
    "humidity": 38.7,
    "vibration": 1.122,
    "machine_type": "B",
    "shift": "day",
}
