-module(demo_app).
-behaviour(application).
-export([start/2, stop/1]).

%% `boot` in sys.config lets a build produce a release that fails at boot
%% (crash) or shortly after (crash_after_ms), to exercise rollbacks.
start(_Type, _Args) ->
    case application:get_env(demo, boot, ok) of
        crash -> {error, {boot, crash_requested}};
        _ -> demo_sup:start_link()
    end.

stop(_State) -> ok.
