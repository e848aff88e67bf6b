"""The sandbox's Python Lambda runtime: one invocation of a handler, in a fresh process.

``sandbox.extensions.lambda_run`` starts it as ``python -I lambda_runtime.py <handler> <request id> <function arn>
<deadline ms>`` in the function's code directory, with the function's environment. It reads the event (JSON) on
stdin, sends everything the function prints to stderr (the invocation's log) and writes ``ok`` or ``error`` and
the response payload (JSON) to stdout. Errors have the Python runtime's shape: ``errorMessage``, ``errorType``,
``requestId``, ``stackTrace``. Standard library only, nothing from the sandbox: the function sees what it would
see on Lambda (plus the sandbox's site-packages).
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback


class RuntimeFault(Exception):
    """An error of the runtime, not of the handler (``Runtime.*`` error types)."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


class Context:
    """The handler's ``context`` argument, as the Python runtime passes it."""

    def __init__(self, request_id, function_arn, deadline_ms):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def load_handler(handler):
    """The handler function named ``module.function``; a RuntimeFault as Lambda words it otherwise."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise RuntimeFault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise RuntimeFault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    except SyntaxError as error:
        raise RuntimeFault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}") from None
    function = getattr(module, function_name, None)
    if function is None:
        raise RuntimeFault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return function


def run(handler, event, context):
    """The response payload of a successful invocation."""
    result = load_handler(handler)(event, context)
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as error:
        raise RuntimeFault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None


def error_payload(error, request_id):
    """Lambda's error document, the stack trace without this runtime's frames; logged as Lambda logs it."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__ and f.filename[0] != "<"]
    error_type = getattr(error, "error_type", type(error).__name__)
    stack = traceback.format_list(frames) if not isinstance(error, RuntimeFault) else []
    print(
        f"[ERROR] {error_type}: {error}\nTraceback (most recent call last):\n{''.join(stack).rstrip()}", file=sys.stderr
    )
    return json.dumps(
        {"errorMessage": str(error), "errorType": error_type, "requestId": request_id, "stackTrace": stack}
    )


def configure_logging(request_id):
    """A root handler as the Python runtime installs: Lambda's line format, on the log; the root level stays WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    line = f"[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t{request_id}\t%(message)s"
    handler.setFormatter(logging.Formatter(line, "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    logging.getLogger().addHandler(handler)


def main():
    handler, request_id, function_arn, deadline_ms = sys.argv[1:5]
    sys.path.insert(0, os.getcwd())  # the code directory, as /var/task on Lambda
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the function prints is its log
    sys.stdout.reconfigure(line_buffering=True)
    configure_logging(request_id)
    context = Context(request_id, function_arn, float(deadline_ms))
    try:
        status, payload = "ok", run(handler, json.loads(sys.stdin.read() or "{}"), context)
    except Exception as error:
        status, payload = "error", error_payload(error, request_id)
    result.write(f"{status}\n{payload}")
    result.close()


if __name__ == "__main__":
    main()
