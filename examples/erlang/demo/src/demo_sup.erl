-module(demo_sup).
-behaviour(supervisor).
-export([start_link/0, init/1]).

start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).

init([]) ->
    Server = #{id => demo_server, start => {demo_server, start_link, []}},
    {ok, {#{strategy => one_for_one, intensity => 1, period => 5}, [Server]}}.
