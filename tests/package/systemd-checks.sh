# shellcheck shell=bash
# Part 3 of tests/package/test-package.sh (sourced from it, after the chroot checks):
# loadpilot-agent@.service under a real systemd. systemd is installed into the same root
# only now, because it brings libraries (libssl3 among them) that would have hidden a
# dependency missing from loadpilot-agent; then systemd-nspawn boots the root, sharing
# the host's network, so the agent reaches the coordinator started outside on 127.0.0.1.

boot_log=""
find_leader() { LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1); [[ -n $LEADER ]]; }
# in_ct CMD...: runs CMD inside the booted root (its mount, pid, uts and ipc namespaces).
in_ct() {
  nsenter --target "$LEADER" --mount --uts --ipc --pid --root --wd=/ -- \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"
}
booted() { [[ $(in_ct systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]; }
# boot NAME: boots the root with systemd-nspawn (bounded); returns 1 with BOOT_WHY.
boot() {
  boot_log=$WORK/nspawn-$1.log
  systemd-nspawn --quiet --directory "$ROOT" --boot --register=no --keep-unit --machine "$MACHINE" \
    --resolv-conf=off --timezone=off --console=pipe < /dev/null > "$boot_log" 2>&1 9>&- &
  NSPAWN_PID=$!
  if ! lp_wait 30 "systemd-nspawn to start the root's systemd" find_leader ||
     ! lp_wait 90 "the root to finish booting" booted; then
    BOOT_WHY=$(tail -n 5 "$boot_log" | tr '\n' ' ')
    stop_container
    return 1
  fi
  [[ $(in_ct systemctl is-system-running 2>/dev/null) == running ]] ||
    lp_log "booted degraded; failed units: $(in_ct systemctl --failed --no-legend --plain 2>/dev/null | tr '\n' ' ')"
}
unit_prop() { in_ct systemctl show -p "$2" --value "$1"; }
# wait_prop SECONDS UNIT PROPERTY VALUE: until the unit's property has that value.
wait_prop() { lp_wait "$1" "$2 $3=$4" bash -c '[[ $(nsenter --target "$0" --mount --pid --root -- systemctl show -p "$2" --value "$1") == "$3" ]]' "$LEADER" "$2" "$3" "$4"; }

systemd_checks() {
  local unit=loadpilot-agent@agent-1.service out rc pid
  if ! command -v systemd-nspawn >/dev/null; then
    skip "loadpilot-agent@.service under systemd: systemd-nspawn is not installed (Debian package systemd-container; LOADPILOT_PACKAGE_DEPS=1 scripts/install-deps.sh installs it)"
    return
  fi
  if ! in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd systemd-sysv > "$WORK/systemd.log" 2>&1; then
    fail "apt-get install systemd inside the root: $(tail -n 5 "$WORK/systemd.log" | tr '\n' ' ')"
    return
  fi
  unmount_root  # systemd-nspawn mounts what the root needs itself
  if ! boot first; then
    skip "loadpilot-agent@.service under systemd: systemd-nspawn cannot boot the root here: $BOOT_WHY"
    return
  fi
  lp_log "the root booted with systemd-nspawn (pid 1 of the root is $LEADER here)"
  export -f wait_prop unit_prop in_ct
  export LEADER

  check "systemd-analyze verify: the unit has no error or warning" \
    bash -c 'out=$(nsenter --target "$0" --mount --pid --root -- systemd-analyze verify --man=no "$1" 2>&1); echo "$out"; [[ -z $out ]]' "$LEADER" "$unit"

  # As docs/install.md says: COORDINATOR (and the token) in /etc/default/loadpilot-agent,
  # then `systemctl enable --now loadpilot-agent@<agent id>`.
  if start_coordinator unit-run; then
    sed -i "s|^COORDINATOR=.*|COORDINATOR=127.0.0.1:$BROKER_PORT|; s|^#NATS_TOKEN=.*|NATS_TOKEN=$NATS_TOKEN|" \
      "$ROOT/etc/default/loadpilot-agent"
    out=$(in_ct systemctl enable --now "$unit" 2>&1)
    rc=$?
    coordinator_result unit-run agent-1
    check "systemctl enable --now $unit (exit $rc): the agent registers and fires the run: $RESULT (phase/reported/errors/target/agent-1)" \
      test "$rc/$RESULT" = "0/$EXPECT_RUN"
    [[ $rc == 0 ]] || echo "$out" | sed 's/^/    /'
  else
    fail "the coordinator did not start: $(tail -n 5 "$WORK/unit-run.err")"
  fi
  pid=$(unit_prop "$unit" MainPID)
  check "after the run the agent waits for the next plan, as a dynamic user (not root), enabled at boot" \
    bash -c '[[ $(nsenter --target "$0" --mount --pid --root -- systemctl is-active "$1") == active &&
              $(nsenter --target "$0" --mount --pid --root -- systemctl is-enabled "$1") == enabled ]] &&
             uid=$(nsenter --target "$0" --mount --pid --root -- awk "/^Uid:/ { print \$2 }" "/proc/$2/status") &&
             echo "uid $uid" && [[ -n $uid && $uid != 0 ]]' "$LEADER" "$unit" "$pid"

  in_ct systemctl kill --signal=KILL --kill-whom=main "$unit" >/dev/null 2>&1
  check "killed with SIGKILL, the agent is restarted by systemd (Restart=on-failure, 5 s)" \
    bash -c 'wait_prop 30 "$1" NRestarts 1 && wait_prop 15 "$1" ActiveState active &&
             [[ $(unit_prop "$1" MainPID) != "$2" ]]' "$LEADER" "$unit" "$pid"

  in_ct systemctl start loadpilot-agent@bad.id.service >/dev/null 2>&1
  check "an agent id it cannot use (loadpilot-agent@bad.id): exit 2, failed at once, no restart loop, the reason in the journal" \
    bash -c 'wait_prop 30 loadpilot-agent@bad.id.service ActiveState failed &&
             [[ $(unit_prop loadpilot-agent@bad.id.service ExecMainStatus) == 2 &&
                $(unit_prop loadpilot-agent@bad.id.service NRestarts) == 0 ]] &&
             in_ct journalctl --no-pager -u loadpilot-agent@bad.id.service | grep -q "agent id .bad.id. is not usable"'
  in_ct systemctl reset-failed loadpilot-agent@bad.id.service >/dev/null 2>&1

  # An upgrade: the same package with a higher version (what the next release looks like
  # to dpkg), installed with install.sh over the running agent.
  local up_version=$VERSION+upgrade1 up_dir=$WORK/upgrade
  rm -rf "$up_dir" && dpkg-deb -R "$AGENT_DEB" "$up_dir" &&
    sed -i "s/^Version: .*/Version: $up_version/" "$up_dir/DEBIAN/control" &&
    dpkg-deb --root-owner-group -b "$up_dir" "$ROOT/srv/lp/loadpilot-agent_${up_version}_amd64.deb" >/dev/null
  local settings_before; settings_before=$(sha256sum < "$ROOT/etc/default/loadpilot-agent")
  pid=$(unit_prop "$unit" MainPID)
  out=$(in_ct sh /srv/lp/install.sh "/srv/lp/loadpilot-agent_${up_version}_amd64.deb" 2>&1)
  rc=$?
  check "an upgrade with install.sh (exit $rc) restarts the running agent and keeps the edited /etc/default/loadpilot-agent" \
    bash -c '[[ $0 == 0 ]] && grep -q "upgraded loadpilot-agent from $2 to $3" <<<"$1" || { echo "$1"; exit 1; }
             wait_prop 15 "$4" ActiveState active && [[ $(unit_prop "$4" MainPID) != "$5" ]] &&
             [[ $(sha256sum < "$6/etc/default/loadpilot-agent") == "$7" ]]' \
    "$rc" "$out" "$VERSION" "$up_version" "$unit" "$pid" "$ROOT" "$settings_before"

  # Persistent: after a reboot the agent is back without anyone starting it, and takes
  # the next test on the same coordinator address.
  stop_container
  if boot second; then
    check "after a reboot $unit is running again" wait_prop 30 "$unit" ActiveState active
    if start_coordinator reboot-run "$BROKER_PORT"; then
      coordinator_result reboot-run agent-1
      check "and it fires the next run: $RESULT (phase/reported/errors/target/agent-1)" test "$RESULT" = "$EXPECT_RUN"
    else
      fail "the coordinator did not start again on port $BROKER_PORT: $(tail -n 5 "$WORK/reboot-run.err")"
    fi
  else
    fail "the root did not boot a second time: $BOOT_WHY"
    return
  fi

  local wants=/etc/systemd/system/multi-user.target.wants/$unit
  pid=$(unit_prop "$unit" MainPID)
  in_ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq loadpilot-agent > "$WORK/remove.log" 2>&1
  check "apt-get remove stops the running agent, removes the binary, keeps the settings and the enablement" \
    bash -c '[[ $(nsenter --target "$0" --mount --pid --root -- systemctl is-active "$1") != active ]] &&
             ! nsenter --target "$0" --mount --pid --root -- test -e "/proc/$2" &&
             ! test -e "$3/usr/bin/loadpilot-agent" && test -f "$3/etc/default/loadpilot-agent" && test -L "$3$4"' \
    "$LEADER" "$unit" "$pid" "$ROOT" "$wants"
  in_ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq loadpilot-agent > "$WORK/purge.log" 2>&1
  check "apt-get purge removes /etc/default/loadpilot-agent and the enablement of $unit" \
    bash -c '! test -e "$0/etc/default/loadpilot-agent" && ! test -L "$0$1" &&
             ! nsenter --target "$2" --mount --pid --root -- dpkg-query -W loadpilot-agent 2>/dev/null' "$ROOT" "$wants" "$LEADER"
  stop_container
}

systemd_checks
