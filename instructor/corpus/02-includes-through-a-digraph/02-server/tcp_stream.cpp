%:/* still a directive */include "../../../solutions/02-server/tcp_stream.cpp"
