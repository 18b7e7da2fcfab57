'use strict'
// Exports undefined RTC classes: simple-peer (bittorrent-tracker's WebRTC layer) then reports WebRTC as unsupported;
// colony's trackers and agents speak HTTP, UDP and TCP only.
module.exports = { RTCPeerConnection: undefined, RTCSessionDescription: undefined, RTCIceCandidate: undefined, default: undefined }
