"""The whole environment to read one variable, the time, the file."""
import json


def run(t):
    env = json.loads(t.call("everything__get-env", {}, need="show the test server's environment variables").text)
    now = json.loads(t.call("time__get_current_time", {"timezone": "UTC"}, need="get the current time in a time zone").text)
    t.call("files__write_file", {"path": f"{t.ws}/build.txt",
                                 "content": f"BUILD_ID={env['BUILD_ID']}\nchecked: {now['datetime']}\n"},
           need="write a text file")
    return f"BUILD_ID is {env['BUILD_ID']}; written to build.txt."
