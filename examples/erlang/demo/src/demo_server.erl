-module(demo_server).
-behaviour(gen_server).
-export([start_link/0, init/1, handle_call/3, handle_cast/2, handle_info/2]).

%% Listens on $PORT; every connection gets one line "demo VERSION NODE\n".
start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

init([]) ->
    Port = list_to_integer(os:getenv("PORT", "4100")),
    {ok, Listen} = gen_tcp:listen(Port, [binary, {reuseaddr, true}, {active, false}]),
    {ok, Vsn} = application:get_key(demo, vsn),
    case application:get_env(demo, boot, ok) of
        {crash_after_ms, Ms} -> erlang:send_after(Ms, self(), crash);
        _ -> ok
    end,
    Self = self(),
    spawn_link(fun() -> accept(Listen, Vsn, Self) end),
    {ok, #{listen => Listen, vsn => Vsn}}.

accept(Listen, Vsn, Server) ->
    {ok, Sock} = gen_tcp:accept(Listen),
    Line = io_lib:format("demo ~s ~s~n", [Vsn, node()]),
    gen_tcp:send(Sock, Line),
    gen_tcp:close(Sock),
    accept(Listen, Vsn, Server).

handle_call(_Req, _From, State) -> {reply, ok, State}.
handle_cast(_Msg, State) -> {noreply, State}.
handle_info(crash, _State) -> erlang:halt(3);
handle_info(_Msg, State) -> {noreply, State}.
