"""A single call."""
import json


def run(t):
    now = json.loads(t.call("time__get_current_time", {"timezone": "Asia/Tokyo"},
                            need="get the current time in a time zone").text)
    return f"It is {now['datetime'][11:16]} on {now['day_of_week']} in Tokyo."
