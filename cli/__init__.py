"""The command-line interface behind `python client.py COMMAND ...` (client.py is the entry point).

One job per module:
  main.py        argparse wiring, the list of command modules, exit codes
  (common/temporal_connection.py is the one Temporal connection helper and common/errors.py
  CommandError / UsageError, a one-line message and exit code 2: the worker, the desk, the
  bench and the tests use them too)
  views.py       text views of a run's progress and state (pure)
  request.py     question + config file -> a validated ResearchRequest (nothing contacted)
  ids.py         the --id rules and file names derived from ids
  output.py      report locations checked before a run, reports written atomically
  research.py    `research`: start a run (or attach to the same one), follow it, write the report
  stalls.py      why a followed run does not move (no worker, a failing workflow task)
  report.py      `report`: the report of a finished run
  inspection.py  `progress`, `state`, `watch`, `pause`, `resume`, `step`, `break`, `feedback`,
                 `cancel`
  replay.py      `history`, `replay`, `profile`, `stats`
  export.py      `export` and `research --format`: HTML, PDF, DOCX from a run's result
  mcp_command.py `mcp`; mcp_server.py its tools and report resource; mcp_tools.py the work

Adding a command: write a module here with

    def register(commands: argparse._SubParsersAction) -> None:
        sub = commands.add_parser("name", help="one line")
        sub.add_argument(...)
        sub.set_defaults(handler=async_handler)   # async (args) -> exit code

and add the module to COMMAND_MODULES in cli/main.py. A handler raises CommandError (or a
subclass) for bad input: main() prints `error: <message>` on one line and exits 2. A handler
connects with `common.temporal_connection.connect_from_env()`.
"""
