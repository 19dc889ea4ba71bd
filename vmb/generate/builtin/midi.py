"""Standard MIDI files: write an :class:`Arrangement` (type 1, one track per instrument plus a
conductor track with the tempo map, time and key signature), and read any MIDI file into
:class:`NoteEvent` s for the renderers.
"""

from __future__ import annotations

import os
from pathlib import Path

from vmb.errors import MediaError
from vmb.fileio import atomic_path
from vmb.generate.builtin.arrangement import DRUM_CHANNEL, Arrangement, NoteEvent

TICKS_PER_BEAT = 480
# key signatures are spelled with flats where a sharp spelling would need more than 7 sharps
_SPELLING = {"D#": "Eb", "G#": "Ab", "A#": "Bb"}


def to_midi_file(arrangement: Arrangement):
    """The arrangement as a ``mido.MidiFile`` (type 1)."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name="vmb builtin composer", time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=arrangement.beats_per_bar,
                                      denominator=4, time=0))
    key = arrangement.key + ("m" if arrangement.mode == "minor" else "")
    key = _SPELLING.get(key, key)
    conductor.append(mido.MetaMessage("key_signature", key=key, time=0))
    # a pickup (notes before beat 0, see TempoMap.offset_s) shifts every tick: tick 0 is 0 s
    shift = arrangement.tempo_map.pickup_beats
    events = [(round((b + shift) * TICKS_PER_BEAT), mido.bpm2tempo(bpm)) for b, bpm in arrangement.tempo_map.changes]
    events[0] = (0, events[0][1])
    now = 0
    for tick, tempo in events:
        conductor.append(mido.MetaMessage("set_tempo", tempo=tempo, time=tick - now))
        now = tick
    end_tick = round((arrangement.tempo_map.beat_at(arrangement.duration_s) + shift) * TICKS_PER_BEAT)
    conductor.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    mid.tracks.append(conductor)

    for tr in arrangement.tracks:
        track = mido.MidiTrack()
        ch = tr.channel
        track.append(mido.MetaMessage("track_name", name=tr.name, time=0))
        if not tr.is_drums:
            track.append(mido.Message("program_change", channel=ch, program=tr.program, time=0))
        for control, value in ((7, tr.volume), (10, tr.pan), (91, tr.reverb)):
            track.append(mido.Message("control_change", channel=ch, control=control, value=value, time=0))
        # (tick, order, message): note-offs sort before note-ons at the same tick
        timed = []
        notes = sorted(tr.notes, key=lambda n: (n.start, n.pitch))
        ends: dict[int, int] = {}
        for n in notes:
            on = max(0, round((n.start + shift) * TICKS_PER_BEAT))
            off = max(on + 1, round((n.start + n.duration + shift) * TICKS_PER_BEAT))
            # a pitch struck again before it ended: end the earlier note there
            if n.pitch in ends and ends[n.pitch] > on:
                for i in range(len(timed) - 1, -1, -1):
                    tick, order, msg = timed[i]
                    if order == 0 and msg[1] == n.pitch and tick == ends[n.pitch]:
                        timed[i] = (on, 0, msg)
                        break
            timed.append((on, 1, ("note_on", n.pitch, n.velocity)))
            timed.append((off, 0, ("note_off", n.pitch, 0)))
            ends[n.pitch] = off
        timed.sort(key=lambda x: (x[0], x[1]))
        now = 0
        for tick, _, (kind, pitch, vel) in timed:
            track.append(mido.Message(kind, channel=ch, note=pitch, velocity=vel, time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    return mid


def write_midi(arrangement: Arrangement, path: str | os.PathLike) -> Path:
    """Write the arrangement as a standard MIDI file, atomically. Returns the path."""
    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise MediaError(path, "folder does not exist")
    mid = to_midi_file(arrangement)
    with atomic_path(path) as tmp:
        mid.save(str(tmp))
    return path


def read_midi(path: str | os.PathLike) -> tuple[list[NoteEvent], float]:
    """Notes of any standard MIDI file in seconds (tempo changes applied), and its length.

    Program changes, volume (CC 7), pan (CC 10) and reverb send (CC 91) are followed per
    channel; channel 10 (index 9) is percussion.

    Raises:
        MediaError: the file is missing or not a MIDI file.
    """
    import mido

    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "file not found")
    try:
        mid = mido.MidiFile(path)
        messages = list(mid)  # merged, times in seconds
    except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
        raise MediaError(path, f"not a readable MIDI file ({exc})") from None
    program = [0] * 16
    volume = [100] * 16
    pan = [64] * 16
    reverb = [40] * 16
    sounding: dict[tuple[int, int], list[tuple[float, int]]] = {}
    events: list[NoteEvent] = []
    now = 0.0

    def close(ch: int, pitch: int, t: float) -> None:
        stack = sounding.get((ch, pitch))
        if stack:
            start, vel = stack.pop(0)
            dur = max(t - start, 0.02 if ch == DRUM_CHANNEL else 0.0)
            if dur > 0:
                events.append(NoteEvent(start, dur, pitch, vel, program[ch], ch, volume[ch], pan[ch], reverb[ch]))

    for msg in messages:
        now += msg.time
        if msg.type == "program_change":
            program[msg.channel] = msg.program
        elif msg.type == "control_change":
            if msg.control == 7:
                volume[msg.channel] = msg.value
            elif msg.control == 10:
                pan[msg.channel] = msg.value
            elif msg.control == 91:
                reverb[msg.channel] = msg.value
        elif msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault((msg.channel, msg.note), []).append((now, msg.velocity))
        elif msg.type in ("note_off", "note_on"):
            close(msg.channel, msg.note, now)
    for (ch, pitch), stack in list(sounding.items()):
        while stack:
            close(ch, pitch, now)
    events.sort(key=lambda e: (e.start_s, e.channel, e.pitch))
    return events, now
