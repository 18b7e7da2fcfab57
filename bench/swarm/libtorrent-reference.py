#!/usr/bin/python3
# A reference point for bench/swarm's caps mode, outside colony: one libtorrent seeder that holds the whole file at
# t = 0 plus N leechers, every upload capped, peers introduced directly (no tracker, no DHT), on loopback.
# Time until all leechers complete. Needs the Debian package python3-libtorrent (run with /usr/bin/python3).
#   /usr/bin/python3 bench/swarm/libtorrent-reference.py [N=15] [bytes=128000000] [cap B/s=8000000] [super-seeding 0|1]
import os, shutil, subprocess, sys, tempfile, time
import libtorrent as lt


def peer(role, torrent, save, port, peers, limit, superseed):
    s = lt.session({'listen_interfaces': f'127.0.0.1:{port}', 'enable_dht': False, 'enable_lsd': False,
                    'enable_upnp': False, 'enable_natpmp': False, 'upload_rate_limit': limit,
                    'allow_multiple_connections_per_ip': True, 'alert_mask': 0, 'connections_limit': 500})
    f = lt.ip_filter()
    # By default loopback peers sit in an unlimited class; the caps must apply to them as to remote ones.
    f.add_rule('0.0.0.0', '255.255.255.255', 1 << lt.session.global_peer_class_id)
    s.set_peer_class_filter(f)
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = save
    if role == 'seed':
        p.flags |= lt.torrent_flags.seed_mode
        if superseed:
            p.flags |= lt.torrent_flags.super_seeding
    h = s.add_torrent(p)
    for q in peers.split(','):
        if q and int(q) != port:
            h.connect_peer(('127.0.0.1', int(q)))
    print('up', flush=True)
    while not h.status().is_seeding:
        time.sleep(0.05)
    print(f'done {time.time():.3f}', flush=True)
    while True:
        time.sleep(1)


def main(n, size, limit, superseed):
    d = tempfile.mkdtemp(prefix='colony-lt-ref-', dir='/dev/shm')
    procs = []
    try:
        os.makedirs(f'{d}/seed')
        with open(f'{d}/seed/object.bin', 'wb') as fh:
            fh.write(os.urandom(size))
        fs = lt.file_storage()
        lt.add_files(fs, f'{d}/seed/object.bin')
        ct = lt.create_torrent(fs, 128 * 1024)  # colony's piece length for 128 MB
        lt.set_piece_hashes(ct, f'{d}/seed')
        with open(f'{d}/o.torrent', 'wb') as fh:
            fh.write(lt.bencode(ct.generate()))
        ports = [41000 + i for i in range(n + 1)]
        me = [sys.executable, os.path.abspath(__file__), 'peer']
        procs.append(subprocess.Popen(me + ['seed', f'{d}/o.torrent', f'{d}/seed', str(ports[0]), '', str(limit), str(superseed)], stdout=subprocess.PIPE, text=True))
        procs[0].stdout.readline()
        t0 = time.time()
        for i in range(1, n + 1):
            os.makedirs(f'{d}/l{i}')
            procs.append(subprocess.Popen(me + ['leech', f'{d}/o.torrent', f'{d}/l{i}', str(ports[i]), ','.join(map(str, ports)), str(limit), '0'], stdout=subprocess.PIPE, text=True))
        times = []
        for q in procs[1:]:
            for line in q.stdout:
                if line.startswith('done'):
                    times.append(float(line.split()[1]) - t0)
                    break
        times.sort()
        print(f'libtorrent {lt.__version__}: 1 seeder + {n} leechers, {size / 1e6:.0f} MB, every upload capped at {limit / 1e6:.1f} MB/s, '
              f'super-seeding {"on" if superseed else "off"}: all complete {times[-1]:.2f} s (p50 {times[len(times) // 2]:.2f} s); bound F/u = {size / limit:.1f} s')
    finally:
        for q in procs:
            q.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'peer':
        a = sys.argv[2:]
        peer(a[0], a[1], a[2], int(a[3]), a[4], int(a[5]), a[6] == '1')
    else:
        a = sys.argv[1:] + [None] * 4
        main(int(a[0] or 15), int(a[1] or 128_000_000), int(a[2] or 8_000_000), (a[3] or '0') == '1')
